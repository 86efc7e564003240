use payments::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = common::telemetry::init("payments");
    let config = common::config::exit_on_error("payments", Config::from_env());
    payments::build(config, common::service::Tuning::default())
        .await?
        .run_until_stopped(common::http::shutdown_signal())
        .await
}

use orders::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = common::telemetry::init("orders");
    let config = common::config::exit_on_error("orders", Config::from_env());
    orders::build(config, common::service::Tuning::default())
        .await?
        .run_until_stopped(common::http::shutdown_signal())
        .await
}

use auth::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = common::telemetry::init("auth");
    let config = common::config::exit_on_error("auth", Config::from_env());
    auth::build(config, common::service::Tuning::default())
        .await?
        .run_until_stopped(common::http::shutdown_signal())
        .await
}

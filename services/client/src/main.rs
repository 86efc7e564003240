use client::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = common::telemetry::init("client");
    let config = common::config::exit_on_error("client", Config::from_env());
    client::build(config, common::service::Tuning::default())
        .await?
        .run_until_stopped(common::http::shutdown_signal())
        .await
}

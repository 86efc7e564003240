use expiration::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::telemetry::init();
    let config = common::config::exit_on_error("expiration", Config::from_env());
    let listener = common::http::bind(config.port).await?;
    expiration::run(config, listener, common::http::shutdown_signal()).await
}

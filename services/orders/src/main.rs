use orders::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::telemetry::init();
    let config = common::config::exit_on_error("orders", Config::from_env());
    let listener = common::http::bind(config.service.port).await?;
    orders::run(config, listener, common::http::shutdown_signal()).await
}

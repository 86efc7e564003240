use payments::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::telemetry::init();
    let config = common::config::exit_on_error("payments", Config::from_env());
    let listener = common::http::bind(config.service.port).await?;
    payments::run(config, listener, common::http::shutdown_signal()).await
}

use tickets::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::telemetry::init();
    let config = common::config::exit_on_error("tickets", Config::from_env());
    let listener = common::http::bind(config.service.port).await?;
    tickets::run(config, listener, common::http::shutdown_signal()).await
}

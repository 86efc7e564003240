use client::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::telemetry::init();
    let config = common::config::exit_on_error("client", Config::from_env());
    let listener = common::http::bind(config.port).await?;
    client::run(config, listener, common::http::shutdown_signal()).await
}

use tickets::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = common::telemetry::init("tickets");
    let config = common::config::exit_on_error("tickets", Config::from_env());
    tickets::build(config, common::service::Tuning::default())
        .await?
        .run_until_stopped(common::http::shutdown_signal())
        .await
}

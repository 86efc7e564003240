//! `ops`: what an operator runs against a running fleet.
//!
//! ```text
//! cargo run -p ops -- parked list                     every parked event, oldest first
//! cargo run -p ops -- parked replay <seq>             publish the event at stream sequence <seq> again
//! cargo run -p ops -- parked unpark <database> <id>   hand a parked outbox entry back to its relay
//! ```
//!
//! It talks to the fleet's NATS at `NATS_URL` (default: the local stack's,
//! `nats://127.0.0.1:3122`) and, for `unpark`, to its MongoDB at `MONGO_URI` (default: the local
//! stack's). What parking is and why a replay is safe: `common::events::parked`.

use gumdrop::Options;

#[derive(Debug, Options)]
struct Args {
    #[options(help = "print this help")]
    help: bool,
    #[options(command)]
    command: Option<Command>,
}

#[derive(Debug, Options)]
enum Command {
    #[options(
        help = "parked events: `list`, `replay <stream sequence>`, `unpark <database> <entry id>`"
    )]
    Parked(ParkedArgs),
}

#[derive(Debug, Options)]
struct ParkedArgs {
    #[options(help = "print this help")]
    help: bool,
    #[options(free, help = "list | replay <seq> | unpark <database> <entry id>")]
    words: Vec<String>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse_args_default_or_exit();
    let Some(Command::Parked(parked)) = args.command else {
        eprintln!("{}", Args::usage());
        eprintln!("\ncommands:\n{}", Args::command_list().unwrap_or_default());
        std::process::exit(2);
    };
    let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:3122".to_owned());
    // As NATS_USER (the production NATS's `admin`) where the server has users.
    let config = common::config::NatsConfig::local(&url, "ops").with_credentials_from_env()?;
    // Attached, not connected: a tool must not create or reconfigure the services' streams.
    let nats = common::events::Nats::attach(&config).await?;
    let words: Vec<&str> = parked.words.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["list"] => {
            let records = common::events::parked::list(nats.jetstream()).await?;
            if records.is_empty() {
                println!("no parked events");
            }
            for record in records {
                match &record.outbox_entry {
                    Some(entry) => println!(
                        "{}  entry {entry}  {}  attempts {}  at {}\n    {}",
                        record.consumer,
                        record.subject,
                        record.deliveries,
                        record.parked_at,
                        record.error
                    ),
                    None => println!(
                        "seq {}  {}  {}  deliveries {}  at {}\n    {}",
                        record.sequence,
                        record.subject,
                        record.consumer,
                        record.deliveries,
                        record.parked_at,
                        record.error
                    ),
                }
            }
        }
        ["replay", sequence] => {
            let sequence: u64 = sequence
                .parse()
                .map_err(|_| anyhow::anyhow!("not a stream sequence: {sequence}"))?;
            let again = common::events::parked::replay(nats.jetstream(), sequence).await?;
            println!("replayed sequence {sequence} as sequence {again}");
        }
        ["unpark", database, entry] => {
            let id = bson::oid::ObjectId::parse_str(entry)
                .map_err(|_| anyhow::anyhow!("not an outbox entry id: {entry}"))?;
            let uri = std::env::var("MONGO_URI").unwrap_or_else(|_| {
                "mongodb://127.0.0.1:3117/?replicaSet=rs0&directConnection=true".to_owned()
            });
            let client = mongodb::Client::with_uri_str(&uri).await?;
            if !common::outbox::unpark(&client.database(database), id).await? {
                anyhow::bail!("no parked entry {entry} in the outbox of {database}");
            }
            println!("entry {entry} of {database} handed back to its relay");
        }
        _ => {
            eprintln!(
                "usage: ops parked list | ops parked replay <seq> | ops parked unpark <database> <entry id>"
            );
            std::process::exit(2);
        }
    }
    Ok(())
}

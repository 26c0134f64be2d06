//! The PostgreSQL and the Kafka broker an example uses: the ones it was
//! given, or ones it starts for the run (stopped when dropped).

use std::path::Path;

use crate::kafka::KafkaBroker;
use crate::postgres::PostgresServer;

/// An example's servers.
pub struct Servers {
    /// The PostgreSQL connection string.
    pub postgres: String,
    /// The Kafka broker, `host:port`.
    pub bootstrap: String,
    _postgres: Option<PostgresServer>,
    _broker: Option<KafkaBroker>,
}

/// The servers given, or, for each one not given, one started under
/// `scratch`.
pub async fn given_or_started(
    postgres: Option<String>,
    bootstrap: Option<String>,
    scratch: &Path,
) -> Result<Servers, String> {
    let (bootstrap, broker) = match bootstrap {
        Some(bootstrap) => (bootstrap, None),
        None => {
            println!("starting a Kafka broker…");
            let broker = KafkaBroker::start(scratch.join("kafka"), 0)
                .await
                .map_err(|e| e.to_string())?;
            (broker.bootstrap(), Some(broker))
        }
    };
    let (postgres, server) = match postgres {
        Some(config) => (config, None),
        None => {
            println!("starting PostgreSQL…");
            let server = PostgresServer::start(scratch.join("postgres"))
                .await
                .map_err(|e| e.to_string())?;
            (server.config(), Some(server))
        }
    };
    Ok(Servers {
        postgres,
        bootstrap,
        _postgres: server,
        _broker: broker,
    })
}

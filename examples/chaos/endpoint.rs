//! The endpoint the fault-injection runs kill: serves one of the chaos
//! pipelines.
//!
//! `chaos_endpoint --port P --output FILE --records N [--batch B]
//! [--workload count|window|kafka-to-kafka|kafka-to-postgres] [--kafka HOST:PORT]
//! [--postgres CONFIG] [--tag T]`

use clap::Parser;
use stream_runtime::Endpoint;
use stream_support::chaos::EndpointArgs;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = EndpointArgs::parse();
    let pipeline = args
        .workload
        .pipeline(&args.output, &args.connectors, args.records, args.batch)
        .await;
    let pipeline = match pipeline {
        Ok(pipeline) => pipeline,
        Err(e) => {
            eprintln!("chaos_endpoint: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // The object the enrichment row calls, killed with the pipeline.
    let endpoint = Endpoint::new()
        .pipeline(pipeline)
        .service(stream_support::lookups::EnrichCalls);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], args.port));
    match endpoint.serve(addr, std::future::pending::<()>()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chaos_endpoint: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

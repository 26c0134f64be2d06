//! The endpoint the fault-injection runs kill: serves the chaos word count.
//!
//! `chaos_endpoint --port P --output FILE --records N`

use stream_examples::chaos;
use stream_runtime::Endpoint;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = match chaos::EndpointArgs::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("chaos_endpoint: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let endpoint =
        Endpoint::new().pipeline(chaos::pipeline(&args.output, args.records, args.batch));
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], args.port));
    match endpoint.serve(addr, std::future::pending::<()>()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chaos_endpoint: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

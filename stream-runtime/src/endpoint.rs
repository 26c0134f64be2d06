//! Binding pipelines to one Restate endpoint and serving it over HTTP/2.

use std::collections::BTreeSet;
use std::future::Future;
use std::net::SocketAddr;

use hyper::server::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::graceful::GracefulShutdown;
use restate_sdk::hyper::HyperEndpoint;
use tokio::net::TcpListener;

use crate::complete::{CompletePipeline, IntoPipeline};
use crate::names::ServiceNames;

/// Why pipelines could not be bound together.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// A name that cannot name Restate services.
    #[error(
        "`{0}` cannot name a pipeline: use an ASCII letter followed by letters, digits or `_`"
    )]
    InvalidName(String),
    /// Two pipelines with one name would share services and state.
    #[error("two pipelines are named `{0}`; each needs its own name, since its services and state are named after it")]
    DuplicateName(String),
    /// A pipeline's service name collides with another's (`A` + `Source` = `AS` + `ource`).
    #[error("pipeline `{pipeline}` would define service `{service}`, which another pipeline already defines")]
    ServiceClash {
        /// The later pipeline.
        pipeline: String,
        /// The service both would define.
        service: String,
    },
    /// A service or handler name Restate does not accept (the pipeline's
    /// name passed the check above, so this is one of its derived names).
    #[error(transparent)]
    Definition(#[from] crate::services::DefinitionError),
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// One Restate endpoint serving any number of pipelines side by side.
///
/// ```no_run
/// # async fn run(word_count: impl stream_runtime::IntoPipeline) -> Result<(), stream_runtime::EndpointError> {
/// use stream_runtime::Endpoint;
///
/// Endpoint::new()
///     .pipeline(word_count)
///     .serve("0.0.0.0:9080".parse().unwrap(), std::future::pending::<()>())
///     .await
/// # }
/// ```
#[derive(Default)]
pub struct Endpoint {
    pipelines: Vec<CompletePipeline>,
    /// Restate services of the user's own, served beside the pipelines.
    services: Vec<restate_sdk::service::ServiceDefinition>,
}

impl Endpoint {
    /// An endpoint with no pipelines yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a pipeline. Its name is checked when the endpoint is built (or
    /// served): a name that cannot name Restate services, or one that two
    /// pipelines share, is an [`EndpointError`] then.
    pub fn pipeline(mut self, pipeline: impl IntoPipeline) -> Self {
        self.pipelines.push(pipeline.into_pipeline());
        self
    }

    /// Serves a Restate service of your own beside the pipelines (one the
    /// SDK's `#[restate_sdk::service]` or `#[restate_sdk::object]` made):
    /// an [`enrich`](crate::KeyedStream::enrich) stage's lookups can call
    /// it on the same server, through the same endpoint.
    pub fn service(mut self, service: impl restate_sdk::service::IntoServiceDefinition) -> Self {
        self.services.push(service.into_service_definition());
        self
    }

    /// The service names of every pipeline added so far.
    pub fn names(&self) -> impl Iterator<Item = &ServiceNames> {
        self.pipelines.iter().map(CompletePipeline::names)
    }

    /// Every pipeline added so far: its service names and its graph.
    pub fn pipelines(&self) -> impl Iterator<Item = (&ServiceNames, &crate::graph::Graph)> {
        (self.pipelines.iter()).map(|pipeline| (pipeline.names(), pipeline.graph()))
    }

    /// Checks the pipelines' names and builds the SDK endpoint.
    pub fn build(self) -> Result<restate_sdk::endpoint::Endpoint, EndpointError> {
        let mut pipelines = BTreeSet::new();
        let mut services = BTreeSet::new();
        let mut builder = restate_sdk::endpoint::Endpoint::builder();
        for pipeline in self.pipelines {
            let names = pipeline.names().clone();
            if !crate::names::is_valid_pipeline_name(&names.pipeline) {
                return Err(EndpointError::InvalidName(names.pipeline));
            }
            if !pipelines.insert(names.pipeline.clone()) {
                return Err(EndpointError::DuplicateName(names.pipeline));
            }
            for service in [
                &names.source,
                &names.split,
                &names.keyed,
                &names.sink,
                &names.control,
            ] {
                if !services.insert(service.clone()) {
                    return Err(EndpointError::ServiceClash {
                        pipeline: names.pipeline.clone(),
                        service: service.clone(),
                    });
                }
            }
            for service in pipeline
                .into_services()
                .map_err(EndpointError::Definition)?
            {
                builder = builder.bind(service);
            }
        }
        for service in self.services {
            builder = builder.bind(service);
        }
        Ok(builder.build())
    }

    /// Serves on `addr` until `shutdown` completes.
    pub async fn serve(self, addr: SocketAddr, shutdown: impl Future) -> Result<(), EndpointError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| EndpointError::Bind { addr, source })?;
        self.serve_on(listener, shutdown).await
    }

    /// Serves on an already bound listener until `shutdown` completes.
    ///
    /// Like the SDK's `HttpServer` (HTTP/2 cleartext, graceful shutdown), but
    /// with `TCP_NODELAY` on every connection: the server and the endpoint
    /// exchange many small frames per batch, and Nagle's algorithm with
    /// delayed ACKs could hold each one back.
    pub async fn serve_on(
        self,
        listener: TcpListener,
        shutdown: impl Future,
    ) -> Result<(), EndpointError> {
        let endpoint = HyperEndpoint::new(self.build()?);
        let graceful = GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((stream, remote)) = accepted else { continue };
                    if let Err(e) = stream.set_nodelay(true) {
                        tracing::debug!("cannot set TCP_NODELAY for {remote}: {e}");
                    }
                    let connection = http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), endpoint.clone());
                    let connection = graceful.watch(connection);
                    tokio::spawn(async move {
                        if let Err(e) = connection.await {
                            tracing::debug!("connection from {remote} ended: {e}");
                        }
                    });
                }
                _ = &mut shutdown => break,
            }
        }
        tokio::select! {
            _ = graceful.shutdown() => {}
            _ = tokio::time::sleep(std::time::Duration::from_secs(10)) => {}
        }
        Ok(())
    }
}

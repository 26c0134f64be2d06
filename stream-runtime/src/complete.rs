//! A pipeline from source to sink, ready for an endpoint to serve.

use restate_sdk::service::ServiceDefinition;

use crate::graph::Graph;
use crate::model::{model, Drive};
use crate::names::ServiceNames;
use crate::services;
use crate::services::DefinitionError;
use crate::stages::Dataflow;

/// A pipeline from source to sink: what `sink(..)` returns and what an
/// [`Endpoint`](crate::Endpoint) serves.
///
/// Its record types are checked when it is built and then hidden, so every
/// pipeline, whatever its closures, has this one type.
pub struct CompletePipeline {
    names: ServiceNames,
    graph: Graph,
    services: CompileServices,
    model: MakeModel,
}

/// Builds a pipeline's services, monomorphized for its stages.
type CompileServices =
    Box<dyn FnOnce(&ServiceNames) -> Result<Vec<ServiceDefinition>, DefinitionError> + Send>;

/// Builds the pipeline's reference model, for a [`TestDriver`](crate::driver::TestDriver).
type MakeModel = Box<dyn FnOnce() -> Box<dyn Drive> + Send>;

impl CompletePipeline {
    pub(crate) fn new<D: Dataflow>(flow: D) -> Self {
        let flow = std::sync::Arc::new(flow);
        let modelled = std::sync::Arc::clone(&flow);
        Self {
            names: ServiceNames::for_pipeline(flow.name()),
            graph: flow.graph(),
            services: Box::new(move |names| services::definitions(flow, names.clone())),
            model: Box::new(move || model(modelled)),
        }
    }

    /// The pipeline's reference model, run in this process.
    pub(crate) fn into_model(self) -> Box<dyn Drive> {
        (self.model)()
    }

    /// The names of the pipeline's Restate services.
    pub fn names(&self) -> &ServiceNames {
        &self.names
    }

    /// The pipeline's graph, as it was written (see [`Graph`]).
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The pipeline's Restate services.
    pub(crate) fn into_services(self) -> Result<Vec<ServiceDefinition>, DefinitionError> {
        (self.services)(&self.names)
    }
}

impl std::fmt::Debug for CompletePipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompletePipeline")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

/// Anything an [`Endpoint`](crate::Endpoint) can serve: a
/// [`CompletePipeline`] from the typed API, or the struct `pipeline!`
/// declares.
///
/// ```
/// use stream_runtime::{pipeline, CollectSink, Endpoint, IntoPipeline, Pipeline, Sequence};
///
/// pipeline! {
///     Evens:
///     source(Sequence::new().take(10))
///     |> filter(|n| n % 2 == 0)
///     |> sink(CollectSink::new())
/// }
///
/// // A pipeline from the typed API: the odd numbers.
/// let odds = Pipeline::named("Odds")
///     .source(Sequence::new().take(10))
///     .filter(|n| n % 2 == 1)
///     .sink(CollectSink::new());
///
/// fn serve_both(a: impl IntoPipeline, b: impl IntoPipeline) -> Endpoint {
///     Endpoint::new().pipeline(a).pipeline(b)
/// }
/// let endpoint = serve_both(Evens, odds);
/// assert_eq!(endpoint.names().count(), 2);
/// ```
pub trait IntoPipeline {
    /// The pipeline, from source to sink.
    fn into_pipeline(self) -> CompletePipeline;
}

impl IntoPipeline for CompletePipeline {
    fn into_pipeline(self) -> CompletePipeline {
        self
    }
}

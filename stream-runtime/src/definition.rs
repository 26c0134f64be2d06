//! A pipeline ready to serve: its names and its Restate services.

use restate_sdk::service::ServiceDefinition;

use crate::dataflow::{Dataflow, Topology};
use crate::names::ServiceNames;
use crate::services;

/// A pipeline compiled to Restate services, ready to bind to an
/// [`Endpoint`](crate::Endpoint).
pub struct PipelineDefinition {
    names: ServiceNames,
    services: Vec<ServiceDefinition>,
}

impl PipelineDefinition {
    /// Compiles any [`Dataflow`] into its services.
    pub fn new<D: Dataflow>(flow: D) -> Self {
        let names = ServiceNames::for_pipeline(flow.name());
        Self {
            services: services::definitions(flow, names.clone()),
            names,
        }
    }

    /// The services' names.
    pub fn names(&self) -> &ServiceNames {
        &self.names
    }

    pub(crate) fn into_services(self) -> Vec<ServiceDefinition> {
        self.services
    }
}

impl std::fmt::Debug for PipelineDefinition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipelineDefinition")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

/// Anything that can become a [`PipelineDefinition`]: a [`Topology`] from
/// the typed API, or the unit struct `pipeline!` declares.
pub trait IntoPipeline {
    /// Compiles the pipeline.
    fn into_pipeline(self) -> PipelineDefinition;
}

impl IntoPipeline for PipelineDefinition {
    fn into_pipeline(self) -> PipelineDefinition {
        self
    }
}

impl<S, Pre, K, Post, Sk> IntoPipeline for Topology<S, Pre, K, Post, Sk>
where
    Topology<S, Pre, K, Post, Sk>: Dataflow,
{
    fn into_pipeline(self) -> PipelineDefinition {
        PipelineDefinition::new(self)
    }
}

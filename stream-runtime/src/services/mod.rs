//! The Restate services a pipeline compiles to, one file per stage.
//!
//! Each service is a plain struct implementing the SDK's `Service` trait for a
//! concrete [`Dataflow`], so every handler is monomorphized for its pipeline.

mod control;
mod dispatch;
mod guard;
mod keyed;
mod sink;
mod source;
pub use source::{parse_token_count, MAX_TOKENS_PER_CALL};
mod split;

use std::sync::Arc;

use restate_sdk::service::macro_support::service_definition;
use restate_sdk::service::ServiceDefinition;

use crate::names::ServiceNames;
use crate::stages::Dataflow;

/// What every stage service holds: the pipeline and its service names.
pub(crate) struct Stage<D> {
    flow: Arc<D>,
    names: Arc<ServiceNames>,
}

impl<D> Clone for Stage<D> {
    fn clone(&self) -> Self {
        Self {
            flow: Arc::clone(&self.flow),
            names: Arc::clone(&self.names),
        }
    }
}

/// The layout this endpoint serves the pipeline with.
fn layout<D: Dataflow>(flow: &D) -> crate::protocol::Layout {
    crate::protocol::Layout {
        key_groups: flow.config().key_groups.count(),
        splits: flow.splits(),
        sink_partitions: flow.sink_partitions(),
    }
}

/// The service definitions of one pipeline, ready to bind to an endpoint.
pub(crate) fn definitions<D: Dataflow>(
    flow: D,
    names: ServiceNames,
) -> Result<Vec<ServiceDefinition>, String> {
    let keyed = flow.is_keyed();
    let stage = Stage {
        flow: Arc::new(flow),
        names: Arc::new(names),
    };
    let mut services = vec![
        service_definition(
            source::SourceService(stage.clone()),
            source::manifest(&stage.names)?,
        ),
        service_definition(
            split::SplitService(stage.clone()),
            split::manifest(&stage.names)?,
        ),
        service_definition(
            sink::SinkService(stage.clone()),
            sink::manifest(&stage.names)?,
        ),
        service_definition(
            control::ControlService(stage.clone()),
            control::manifest(&stage.names)?,
        ),
    ];
    if keyed {
        services.push(service_definition(
            keyed::KeyedService(stage.clone()),
            keyed::manifest(&stage.names)?,
        ));
    }
    Ok(services)
}

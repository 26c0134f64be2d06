//! The Restate services a pipeline compiles to, one file per service. Each
//! file declares its handlers (from [`crate::protocol::handlers`]) and
//! implements them: decode, call into plain code, encode. One generic SDK
//! `Service` impl serves them all (`serve.rs`).

mod calls;
mod clock;
mod control;
mod group_store;
mod ingest;
mod keyed;
mod log;
mod lookups;
mod serve;
mod sink;
mod source;
mod split;

pub use serve::DefinitionError;
pub use source::{parse_token_count, MAX_TOKENS_PER_CALL};

use std::marker::PhantomData;
use std::sync::Arc;

use restate_sdk::service::ServiceDefinition;

use crate::keyed::StateCache;
use crate::names::ServiceNames;
use crate::protocol::handlers::{
    ClockService, ControlService, IngestService, KeyedService, LogService, SinkService,
    SourceService, SplitService,
};
use crate::source::Source;
use crate::stages::{Dataflow, Downstream, Level};

/// A handle on service `K` of pipeline `D`: what every handler holds.
pub(crate) struct PipelineService<K, D> {
    flow: Arc<D>,
    names: Arc<ServiceNames>,
    /// For a keyed stage's service: which (0 for the first).
    level: u32,
    /// For a keyed stage's service: the entries its groups stored, as this
    /// process saw them.
    cache: Arc<StateCache>,
    kind: PhantomData<fn() -> K>,
}

impl<K, D> Clone for PipelineService<K, D> {
    fn clone(&self) -> Self {
        Self {
            flow: Arc::clone(&self.flow),
            names: Arc::clone(&self.names),
            level: self.level,
            cache: Arc::clone(&self.cache),
            kind: PhantomData,
        }
    }
}

impl<K, D> PipelineService<K, D> {
    /// The same pipeline's service `L`.
    fn to<L>(&self) -> PipelineService<L, D> {
        PipelineService {
            flow: Arc::clone(&self.flow),
            names: Arc::clone(&self.names),
            level: self.level,
            cache: Arc::clone(&self.cache),
            kind: PhantomData,
        }
    }
}

/// The handlers service `Self` of pipeline `D` serves, as a tuple such as
/// `(split::Next, split::Stop, split::Resume, split::Progress)`.
pub(crate) trait ServiceHandlers<D>: crate::protocol::ServiceKind + Sized {
    type Handlers: serve::HandlerList<Self, D>;
}

/// The service definitions of one pipeline, ready to bind to an endpoint;
/// fails on a name Restate does not accept.
pub(crate) fn definitions<D: Dataflow>(
    flow: Arc<D>,
    names: ServiceNames,
) -> Result<Vec<ServiceDefinition>, serve::DefinitionError> {
    let keyed = flow.is_keyed();
    let timed = flow.config().watermarks.is_some();
    let first = Arc::clone(flow.first());
    let stage: PipelineService<(), D> = PipelineService {
        flow,
        names: Arc::new(names),
        level: 0,
        cache: Arc::default(),
        kind: PhantomData,
    };
    let mut services = vec![
        serve::definition(stage.to::<SourceService>())?,
        serve::definition(stage.to::<SplitService>())?,
        serve::definition(stage.to::<SinkService>())?,
        serve::definition(stage.to::<ControlService>())?,
    ];
    if keyed {
        services.extend(keyed_stages(first, &stage.names, 0)?);
    }
    if timed {
        services.push(serve::definition(stage.to::<ClockService>())?);
    }
    let logs: Vec<_> = (0..stage.flow.splits())
        .filter_map(|split| stage.flow.source().pushed(split))
        .collect();
    if logs.iter().any(|log| !log.pulled) {
        services.push(serve::definition(stage.to::<IngestService>())?);
    }
    if !logs.is_empty() {
        services.push(serve::definition(stage.to::<LogService>())?);
    }
    Ok(services)
}

/// The key-group services of keyed stage `level` and of every one after it.
fn keyed_stages<L: Level>(
    level: Arc<L>,
    names: &ServiceNames,
    index: u32,
) -> Result<Vec<ServiceDefinition>, serve::DefinitionError> {
    let next = level.down().next().map(Arc::clone);
    let stage: PipelineService<KeyedService, L> = PipelineService {
        flow: level,
        names: Arc::new(names.at_level(index)),
        level: index,
        cache: Arc::default(),
        kind: PhantomData,
    };
    let mut services = vec![serve::definition(stage)?];
    if let Some(next) = next {
        services.extend(keyed_stages(next, names, index + 1)?);
    }
    Ok(services)
}

//! Every handler of a pipeline's services: the whole protocol. A pipeline
//! named `P` has the services `PSource`, `PSplit`, `PKeyed`, `PSink` and
//! `PControl`, and with `event_time` also `PClock` (see [`ServiceNames`]).
//!
//! One record's way through them: `source::Ingest` (a token's round) calls
//! `split::Next` for a range, reads it, calls `keyed::Process` per key
//! group, tells `clock::Report` the range is done (with `event_time`),
//! then calls `sink::Write`, and sends itself `source::Ingest` again. The
//! clock wakes key groups whose windows the watermark passed
//! (`keyed::Advance`); a group wakes itself for processing time
//! (`keyed::Wake`, a delayed call).

use std::marker::PhantomData;

use restate_sdk::discovery::ServiceType;

use super::overview::{ListedDeadLetter, Overview, ReplayRequest, Replayed};
use super::{
    Advanced, Answer, Appended, BatchAnswer, ControlState, DeadLetter, Encoded, Exclusive, Handler,
    KeyedBatch, Lease, LogTake, LogTaken, ObjectKey, PushBatch, RawBody, ServiceKind, Shared,
    SinkBatch, SinkProgress, SplitProgress, StageGroup, Stateless, Status, Take, Taken, Token,
    TokensAdded,
};
use crate::names::ServiceNames;
use crate::record::Record;
use crate::stages::Level;
use crate::time::watermark::{Clock, Need, Report};
use crate::time::Millis;

/// Declares a handler: `Type, "name", Service, Access, Input => Output`.
macro_rules! handler {
    ($(#[$doc:meta])* $ty:ident, $name:literal, $service:ty, $access:ty, $input:ty => $output:ty $(, $flag:ident)*) => {
        $(#[$doc])*
        pub(crate) struct $ty;

        impl Handler for $ty {
            type Service = $service;
            type Access = $access;
            type Input = $input;
            type Output = $output;
            const NAME: &'static str = $name;
            $(const $flag: bool = true;)*
        }
    };
}

/// Declares one of a pipeline's services: its marker type, whether it is
/// a service or a Virtual Object, its key, and its name's field in
/// [`ServiceNames`].
macro_rules! service {
    ($(#[$doc:meta])* $ty:ident, $kind:ident, $key:ty, $name:ident) => {
        $(#[$doc])*
        pub(crate) struct $ty;

        impl ServiceKind for $ty {
            const TYPE: ServiceType = ServiceType::$kind;
            type Key = $key;
            fn name(names: &ServiceNames) -> &str {
                &names.$name
            }
        }
    };
}

service!(
    /// `{P}Source`: the token driver, a plain service.
    SourceService, Service, (), source
);

pub(crate) mod source {
    use super::*;

    handler!(
        /// Injects tokens (body: a count, validated by the handler).
        AddTokens, "addTokens", SourceService, Stateless, RawBody => TokensAdded, PUBLIC
    );
    handler!(
        /// The pipeline's status.
        GetStatus, "status", SourceService, Stateless, () => Status, PUBLIC
    );
    handler!(
        /// Drains the pipeline, answering with its status.
        Stop, "stop", SourceService, Stateless, () => Status, PUBLIC
    );
    handler!(
        /// The status, each split's progress, and the dead letters: what
        /// the runner's page shows.
        GetOverview, "overview", SourceService, Stateless, () => Overview, PUBLIC
    );
    handler!(
        /// Sends one dead letter, or all that can be, in again at the stage
        /// they failed at.
        Replay, "replay", SourceService, Stateless, ReplayRequest => Replayed, PUBLIC
    );
    handler!(
        /// One token's round; sends itself again at the end.
        Ingest, "ingest", SourceService, Stateless, Token => ()
    );
}

service!(
    /// `{P}Split`: one Virtual Object per source split, holding its position.
    SplitService, VirtualObject, u32, split
);

pub(crate) mod split {
    use super::*;

    handler!(
        /// Leases up to `max` positions (the input) from the split's position.
        Next, "next", SplitService, Exclusive, u32 => Lease
    );
    handler!(
        /// Leases nothing more until `Resume`.
        Stop, "stop", SplitService, Exclusive, () => ()
    );
    handler!(
        /// Leases again from where the split stopped.
        Resume, "resume", SplitService, Exclusive, () => ()
    );
    handler!(
        /// The split's position and whether it is exhausted.
        Progress, "progress", SplitService, Shared, () => SplitProgress
    );
}

service!(
    /// `{P}Ingest`: where records are pushed to a pipeline whose source is
    /// [`Pushed`](crate::source::Pushed), a plain service; only such a
    /// pipeline has it.
    IngestService, Service, (), ingest
);

pub(crate) mod ingest {
    use super::*;

    handler!(
        /// Checks a batch and appends it, once per key, to the log of the
        /// split its key picks; answers once it is durable.
        Append, "append", IngestService, Stateless, PushBatch => Appended, PUBLIC
    );
}

service!(
    /// `{P}Log`: one Virtual Object per split of a pushed source, holding
    /// the records pushed and not yet leased (lazy state: the log can hold
    /// many batches, and eager state would ship all of them with each call).
    LogService, VirtualObject, u32, log
);

pub(crate) mod log {
    use super::*;

    handler!(
        /// Appends a checked batch, unless its key was seen: then answers
        /// as the first time. Past the bound, refuses it with a 429.
        Append, "append", LogService, Exclusive, PushBatch => Appended, LAZY_STATE
    );
    handler!(
        /// Hands out the records from a position (the split's, which only
        /// the split asks) and drops them from the log.
        Take, "take", LogService, Exclusive, LogTake => LogTaken, LAZY_STATE
    );
}

service!(
    /// `{P}Keyed`: one Virtual Object per key group, one state entry per key.
    KeyedService, VirtualObject, u32, keyed
);

service!(
    /// The groups of every keyed stage, addressed by stage and group
    /// ([`StageGroup`]): how a token reaches a later stage's `{P}KeyedN`.
    StagesService, VirtualObject, StageGroup, keyed
);

pub(crate) mod keyed {
    use super::*;

    /// Applies the keyed operator, and the operators after it, to a batch of
    /// the group's records, in order. Lazy state: a group can hold many
    /// keys, and eager state would ship all of them with every call.
    /// The answer carries the output when it goes to the sink through the
    /// caller, and the event-time timers the call asks the clock for when
    /// a later keyed stage waits on this one (see [`Answer`]); or the
    /// record that failed, with nothing written (see [`BatchAnswer`]).
    pub(crate) struct Process<L>(PhantomData<L>);

    impl<L: Level> Handler for Process<L> {
        type Service = KeyedService;
        type Access = Exclusive;
        type Input = KeyedBatch<L::Mid>;
        type Output = BatchAnswer<Encoded<Answer<L::Final>>>;
        const NAME: &'static str = "process";
        const LAZY_STATE: bool = true;
    }

    /// [`Process`] of any stage's group, as a token calls it to carry what
    /// the stage before made ([`Answer::passed`]): the records as JSON, whose
    /// type the token does not know; the group decodes them as its own.
    /// Served as `Process` (one handler, seen by two callers).
    pub(crate) struct Relay<F>(PhantomData<F>);

    impl<F: Record> Handler for Relay<F> {
        type Service = StagesService;
        type Access = Exclusive;
        type Input = KeyedBatch<Box<serde_json::value::RawValue>>;
        type Output = BatchAnswer<Encoded<Answer<F>>>;
        const NAME: &'static str = "process";
        const LAZY_STATE: bool = true;
    }

    handler!(
        /// The watermark reached the group's earliest event-time timer:
        /// fire what is due and pass it on. Answers the timers the call
        /// asks the clock for, when a later keyed stage waits on this one.
        Advance, "advance", KeyedService, Exclusive, Millis => Vec<Need>, LAZY_STATE
    );
    handler!(
        /// [`Advance`] of a stage that fires each window once on event
        /// time, before the end of time: answers what it fired for the
        /// next keyed stage, for the clock to carry there ([`Advanced`]).
        Fire, "fire", KeyedService, Exclusive, Millis => Advanced, LAZY_STATE
    );
    handler!(
        /// The group's delayed call for its earliest processing-time timer
        /// (the input: the time it was set for).
        Wake, "wake", KeyedService, Exclusive, Millis => (), LAZY_STATE
    );
    handler!(
        /// How many event-time timers (windows included) the group has
        /// yet to fire.
        Pending, "pending", KeyedService, Shared, () => u64, LAZY_STATE
    );
}

service!(
    /// `{P}Sink`: one Virtual Object per sink partition, holding its committed offset.
    SinkService, VirtualObject, u32, sink
);

pub(crate) mod sink {
    use super::*;

    /// Writes a batch after the committed offset, once; or answers the
    /// record the sink rejected, with the records before it written and
    /// committed (see [`BatchAnswer`]).
    pub(crate) struct Write<T>(PhantomData<T>);

    impl<T: crate::record::Record> Handler for Write<T> {
        type Service = SinkService;
        type Access = Exclusive;
        type Input = SinkBatch<T>;
        type Output = BatchAnswer<()>;
        const NAME: &'static str = "write";
    }

    /// [`Write`] for the sink of a branch before `key_by`, at its
    /// partitions, numbered after the main sink's.
    pub(crate) struct WriteSide<T>(PhantomData<T>);

    impl<T: crate::record::Record> Handler for WriteSide<T> {
        type Service = SinkService;
        type Access = Exclusive;
        type Input = SinkBatch<T>;
        type Output = BatchAnswer<()>;
        const NAME: &'static str = "writeSide";
    }

    handler!(
        /// The committed offset and the records written.
        Progress, "progress", SinkService, Shared, () => SinkProgress
    );
}

service!(
    /// `{P}Control`: the pipeline's one control object, keyed `pipeline`.
    ControlService, VirtualObject, ControlKey, control
);

/// The key of the one control object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ControlKey;

impl ControlKey {
    /// The key as Restate sees it.
    pub(crate) const KEY: &'static str = "pipeline";
}

impl ObjectKey for ControlKey {
    fn key(&self) -> Option<String> {
        Some(Self::KEY.to_owned())
    }
}

pub(crate) mod control {
    use super::*;

    handler!(
        /// Records `n` new tokens and starts them; the first call fixes the layout.
        Add, "add", ControlService, Exclusive, u64 => TokensAdded
    );
    handler!(
        /// Marks the pipeline stopped and stops every split.
        Stop, "stop", ControlService, Exclusive, () => ()
    );
    handler!(
        /// A token found every split exhausted.
        Park, "park", ControlService, Exclusive, Token => ()
    );
    handler!(
        /// A token stopped before touching state; the input says why.
        Halt, "halt", ControlService, Exclusive, String => ()
    );
    handler!(
        /// Keeps a record or batch that could not be processed.
        KeepDeadLetter, "deadLetter", ControlService, Exclusive, DeadLetter => ()
    );
    handler!(
        /// Keeps records that came too late for their windows.
        KeepLate, "late", ControlService, Exclusive, Vec<serde_json::Value> => ()
    );
    handler!(
        /// The token and dead-letter counters.
        Get, "get", ControlService, Shared, () => ControlState
    );
    handler!(
        /// The dead letters not yet replayed (the newest, at most
        /// `LISTED_DEAD_LETTERS`).
        ListDeadLetters, "deadLetters", ControlService, Shared, () => Vec<ListedDeadLetter>
    );
    handler!(
        /// Takes out of the list the letters a replay sends in again: one
        /// by id, or a page of those that can be replayed.
        TakeDeadLetters, "takeDeadLetters", ControlService, Exclusive, Take => Taken
    );
}

service!(
    /// `{P}Clock`: the pipeline's watermark, one object keyed `pipeline`.
    ClockService, VirtualObject, ControlKey, clock
);

pub(crate) mod clock {
    use super::*;

    handler!(
        /// A split's range is done, or the split is idle or ended; answers
        /// the watermark.
        ReportSplit, "report", ClockService, Exclusive, Report => Millis
    );
    handler!(
        /// A key group asks to be woken at a watermark.
        WakeMe, "need", ClockService, Exclusive, Need => ()
    );
    handler!(
        /// The splits' marks, the watermark and the waiting groups.
        Get, "get", ClockService, Shared, () => Clock
    );
}

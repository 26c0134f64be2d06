//! This process's counts of the records into and out of each vertex of
//! each pipeline it serves: what the runner's page shows as rates. Like
//! the Prometheus counters they start at 0 when the process starts, each
//! replica of an endpoint counts what it did, and a call Restate retries
//! counts again; the exact totals are in `status`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// The counts of one pipeline, by vertex role.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Records the source's splits leased, and records the stateless
    /// stages before `key_by` passed on.
    pub source: InOut,
    /// Each keyed stage's records in and results out, in order.
    pub keyed: Vec<InOut>,
    /// Records the sink wrote.
    pub sink: InOut,
    /// Records a branch's sink wrote.
    pub branch: InOut,
}

/// Records into and out of a vertex.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InOut {
    /// Records in.
    pub records_in: u64,
    /// Records out.
    pub records_out: u64,
    /// The calls (leases, a key group's invocations, writes) that took
    /// records in: how many records a call carries is `records_in` over
    /// these.
    #[serde(default)]
    pub calls: u64,
}

impl InOut {
    fn add(&mut self, records_in: usize, records_out: usize) {
        self.records_in += records_in as u64;
        self.records_out += records_out as u64;
        self.calls += u64::from(records_in > 0);
    }
}

static COUNTS: Mutex<BTreeMap<String, Counts>> = Mutex::new(BTreeMap::new());

fn with(pipeline: &str, f: impl FnOnce(&mut Counts)) {
    // A panic elsewhere while the lock was held leaves the counts usable.
    let mut counts = COUNTS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    match counts.get_mut(pipeline) {
        Some(found) => f(found),
        None => f(counts.entry(pipeline.to_owned()).or_default()),
    }
}

/// A round read `records_in` records and passed `records_out` on.
pub(crate) fn source(pipeline: &str, records_in: usize, records_out: usize) {
    with(pipeline, |c| c.source.add(records_in, records_out));
}

/// A call of keyed stage `level` (0 for the first) took `records_in`
/// records and gave `records_out` results.
pub(crate) fn keyed(pipeline: &str, level: u32, records_in: usize, records_out: usize) {
    with(pipeline, |c| {
        let level = level as usize;
        if c.keyed.len() <= level {
            c.keyed.resize(level + 1, InOut::default());
        }
        c.keyed[level].add(records_in, records_out);
    });
}

/// The sink (or a branch's, `branch`) wrote `records` records.
pub(crate) fn sink(pipeline: &str, branch: bool, records: usize) {
    with(pipeline, |c| match branch {
        true => c.branch.add(records, records),
        false => c.sink.add(records, records),
    });
}

/// This process's counts for `pipeline` so far.
///
/// ```
/// let counts = stream_runtime::counts::of("NoSuchPipeline");
/// assert_eq!(counts.source.records_in, 0);
/// ```
pub fn of(pipeline: &str) -> Counts {
    let counts = COUNTS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    counts.get(pipeline).cloned().unwrap_or_default()
}

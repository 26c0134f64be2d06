//! How a key group's call reads and writes its state entries in Restate:
//! through the read cache where it helps, and as one delta entry a call,
//! folded later (`group/deltas.rs` decides; this module journals).

use std::collections::HashSet;

use bytes::Bytes;
use restate_sdk::errors::HandlerResult;
use restate_sdk::prelude::*;

use crate::keyed::{
    plan, Coverage, GroupState, Loaded, Merged, Pending, StateCache, Write, DELTAS, VERSION,
};

/// Entries a call reads at least for it to use the read cache: below that,
/// the version's read and the journaled lookup, each a round trip, cost
/// more than the reads they save. (A timer's call reads the version with
/// its timers, so only the lookup's round trip weighs; measured at 8, the
/// minimum gained nothing that held: Levers tried, in the performance
/// chapter.)
const CACHED_FROM: usize = 16;

/// How a call reads its state entries.
#[derive(Clone, Copy)]
pub(super) enum Reads<'a> {
    /// From Restate: the pipeline has no read cache (a call that writes
    /// still clears the group's version).
    Direct,
    /// From Restate, for a call too small to gain from the cache; a call
    /// that writes clears the group's version, so that no cache trusts
    /// the entries it changed.
    Invalidating,
    /// From the cache where it holds them at the group's version; also
    /// a timer's call until it knows what its due timers name (it read
    /// the version, and [`with_due`](Reads::with_due) may still choose
    /// `Invalidating`).
    Cached(&'a StateCache),
}

impl<'a> Reads<'a> {
    /// How a call that needs `names` reads, with the stage's `cache` if
    /// the pipeline keeps one. A call of a stage with `timers` that needs
    /// none before its timers are read (a timer's call) reads the version
    /// with them and chooses once it knows what its due timers name
    /// ([`GroupStore::due`]): the version's read then travels with the
    /// timers' and costs no round trip of its own.
    pub(super) fn of(cache: Option<&'a StateCache>, names: &[String], timers: bool) -> Self {
        match (cache, names.len()) {
            (None, _) => Reads::Direct,
            (Some(cache), 0) if timers => Reads::Cached(cache),
            (Some(_), n) if n < CACHED_FROM => Reads::Invalidating,
            (Some(cache), _) => Reads::Cached(cache),
        }
    }

    /// How a call that read `read` entries of its own reads the `due`
    /// ones its timers name: a call that read none chooses now, as
    /// [`of`](Self::of) would have for `due` entries. One that read a few
    /// (fewer than the cache's minimum) did not read the version, so it
    /// keeps reading without the cache however many are due.
    fn with_due(self, read: usize, due: usize) -> Self {
        match self {
            Reads::Cached(_) if read == 0 && due < CACHED_FROM => Reads::Invalidating,
            reads => reads,
        }
    }
}

/// One call's view of its group's stored entries: the version it began at,
/// the pending deltas, and, once read, their changes merged.
pub(super) struct GroupStore<'a> {
    group: u32,
    reads: Reads<'a>,
    budget: usize,
    version: Option<u64>,
    pending: Pending,
    merged: Option<Merged>,
    /// Whether a cached call writes its changes as a delta.
    deltas: bool,
}

impl<'a> GroupStore<'a> {
    /// Reads the group's version (with a cache), its pending deltas and the
    /// entries `names` ([`load`](Self::load)). Without the cache, the
    /// entries' own are read together with the delta count, so that a
    /// group with nothing pending (as every group of a pipeline without
    /// the cache) waits for one round trip, as it did before deltas.
    /// `budget`: the pipeline's `max_call_bytes`, which bounds a journaled
    /// cache lookup and the pending deltas. `deltas`: whether a cached call
    /// writes a delta (the pipeline's `state_deltas`); pending ones are
    /// read either way.
    pub(super) async fn open(
        ctx: &ObjectContext<'_>,
        group: u32,
        reads: Reads<'a>,
        budget: usize,
        deltas: bool,
        names: &[String],
    ) -> HandlerResult<(Self, Vec<Loaded>)> {
        let version = match reads {
            Reads::Cached(_) => Some(ctx.get::<u64>(VERSION)),
            _ => None,
        };
        let pending = ctx.get::<Json<Pending>>(DELTAS);
        // Issued after the two above, which travel with them.
        let loaded = match reads {
            Reads::Cached(_) => Vec::new(),
            Reads::Direct | Reads::Invalidating => load(ctx, names).await?,
        };
        let version = match version {
            Some(version) => version.await?,
            None => None,
        };
        let pending = pending.await?.map(|Json(p)| p).unwrap_or_default();
        let mut store = Self {
            group,
            reads,
            budget,
            version,
            pending,
            merged: None,
            deltas,
        };
        let loaded = match reads {
            Reads::Cached(_) => store.load(ctx, names).await?,
            _ if store.pending.is_empty() => loaded,
            _ => {
                let merged = store.merged(ctx).await?;
                loaded
                    .into_iter()
                    .map(|(name, own)| match merged.get(&name) {
                        Some(pending) => (name, pending.clone()),
                        None => (name, own),
                    })
                    .collect()
            }
        };
        Ok((store, loaded))
    }

    /// Reads the entries `due` timers name, which the call did not read
    /// with its own ([`load`](Self::load)). A call that read none of its
    /// own reads them through the cache only if they are enough to gain
    /// from it ([`Reads::of`]): so the clock's wake-up of a group that
    /// buffers much (an interval join's) writes a delta, as its batches
    /// do, instead of folding every pending one at each wake-up.
    pub(super) async fn due(
        &mut self,
        ctx: &ObjectContext<'_>,
        read: usize,
        due: &[String],
    ) -> HandlerResult<Vec<Loaded>> {
        self.reads = self.reads.with_due(read, due.len());
        self.load(ctx, due).await
    }

    /// Reads the entries `names`: with a cache, those it holds at the
    /// group's stored version come from it, journaled as one `ctx.run` (up
    /// to the budget's bytes), and the rest from Restate: from the
    /// pending deltas where one holds them, else from their own entries.
    pub(super) async fn load(
        &mut self,
        ctx: &ObjectContext<'_>,
        names: &[String],
    ) -> HandlerResult<Vec<Loaded>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let Reads::Cached(cache) = self.reads else {
            return self.load_stored(ctx, names, Coverage::Unknown).await;
        };
        let (group, version, budget) = (self.group, self.version, self.budget);
        let Json((hits, coverage)) = ctx
            .run(|| async {
                let (hits, coverage) = cache.lookup(group, version, names, budget);
                let held = hits.len();
                let hits = as_text(hits);
                // An entry left out here may be pending.
                let coverage = match hits.len() == held {
                    true => coverage,
                    false => Coverage::Unknown,
                };
                Ok(Json((hits, coverage)))
            })
            .name("cached")
            .await?;
        let mut loaded: Vec<Loaded> = hits
            .into_iter()
            .map(|(name, text)| (name, Some(text.into_bytes())))
            .collect();
        let known: HashSet<&str> = loaded.iter().map(|(n, _)| n.as_str()).collect();
        let misses: Vec<String> = names
            .iter()
            .filter(|name| !known.contains(name.as_str()))
            .cloned()
            .collect();
        loaded.extend(self.load_stored(ctx, &misses, coverage).await?);
        Ok(loaded)
    }

    /// Reads `names` from Restate: the pending deltas are read first,
    /// unless the cache answers that none of these is in one.
    async fn load_stored(
        &mut self,
        ctx: &ObjectContext<'_>,
        names: &[String],
        coverage: Coverage,
    ) -> HandlerResult<Vec<Loaded>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut loaded = Vec::with_capacity(names.len());
        let mut own = Vec::with_capacity(names.len());
        if self.pending.is_empty() || coverage == Coverage::Covers {
            own.extend_from_slice(names);
        } else {
            let merged = self.merged(ctx).await?;
            for name in names {
                match merged.get(name) {
                    Some(bytes) => loaded.push((name.clone(), bytes.clone())),
                    None => own.push(name.clone()),
                }
            }
        }
        loaded.extend(load(ctx, &own).await?);
        Ok(loaded)
    }

    /// The pending deltas' changes, read once.
    async fn merged(&mut self, ctx: &ObjectContext<'_>) -> HandlerResult<&Merged> {
        if self.merged.is_none() {
            let names = self.pending.entries();
            let mut deltas = Vec::with_capacity(names.len());
            for (name, bytes) in load(ctx, &names).await? {
                // A delta the count names is always written with it.
                let bytes = bytes.ok_or_else(|| {
                    TerminalError::new(format!("the pending delta entry {name} is missing"))
                })?;
                deltas.push(crate::keyed::decode_delta(&bytes).map_err(TerminalError::new)?);
            }
            self.merged = Some(Merged::of(deltas));
        }
        Ok(self.merged.get_or_insert_with(Merged::default))
    }

    /// Writes back what the call changed: as one delta, or folded with the
    /// pending ones into their own entries, or each to its own entry
    /// ([`plan`]). The group's version is cleared before the first write,
    /// and set to this invocation's after the last by a call that used the
    /// cache, so a call cut off half-way, or one without the cache, leaves
    /// no version a cache holds; the cache then takes the entries as the
    /// call left them.
    pub(super) async fn store(
        mut self,
        ctx: &ObjectContext<'_>,
        state: GroupState,
    ) -> HandlerResult<()> {
        let (changes, entries) = state.settle();
        let cached = self.deltas && matches!(self.reads, Reads::Cached(_));
        let write = plan(self.pending, cached, &changes, self.budget);
        let changed = !changes.is_empty();
        let from = self.version;
        let to = match changed {
            true => Some(ctx.random_seed()),
            false => from,
        };
        // Also without a cache here: another process's cache must not trust
        // entries this call changes.
        if changed {
            ctx.clear(VERSION);
        }
        // Whether the call saw every pending delta's entries itself; the
        // cache decides from that whether it covers the group after it.
        let read_all = match &write {
            Write::Fold => true,
            Write::Direct | Write::Delta { .. } => self.pending.is_empty() || self.merged.is_some(),
        };
        match write {
            Write::Direct => put_all(ctx, changes),
            Write::Delta {
                entry,
                bytes,
                pending,
            } => {
                // A cleared entry is cleared in its own entry too: the
                // cache holds no absent entry, so a later miss of it that
                // the cache covers reads its own. Before the delta, so
                // that an invocation killed half-way (`restate
                // invocations kill`) never leaves a counted delta whose
                // clears its own entries lack.
                for (name, bytes) in &changes {
                    if bytes.is_none() {
                        ctx.clear(name);
                    }
                }
                ctx.set(&entry, Bytes::from(bytes));
                ctx.set(DELTAS, Json(pending));
            }
            Write::Fold => {
                self.merged(ctx).await?;
                let merged = self.merged.take().unwrap_or_default();
                // Killed half-way (`restate invocations kill`, which
                // gives up an invocation where it stands), a fold leaves
                // the deltas counted over some entries it wrote: as a call
                // without deltas leaves some keys written and others not.
                put_all(ctx, merged.fold(changes));
                // The count first: no count names a delta that is gone.
                // The next delta is `d:0` again.
                ctx.clear(DELTAS);
                for entry in self.pending.entries() {
                    ctx.clear(&entry);
                }
            }
        }
        let (Reads::Cached(cache), Some(to)) = (self.reads, to) else {
            return Ok(());
        };
        if changed {
            ctx.set(VERSION, to);
        }
        // The pending entries this call read but did not load, so that the
        // cache holds every one it covers.
        let mut entries = entries;
        if let Some(merged) = &self.merged {
            let known: HashSet<String> = entries.iter().map(|(n, _)| n.clone()).collect();
            entries.extend(merged.entries().filter(|(n, _)| !known.contains(n)));
        }
        cache.update(self.group, from, to, entries, read_all);
        Ok(())
    }
}

/// Writes each entry to its own (`None`: removes it).
fn put_all(ctx: &ObjectContext<'_>, entries: Vec<Loaded>) {
    for (name, bytes) in entries {
        match bytes {
            Some(bytes) => ctx.set(&name, Bytes::from(bytes)),
            None => ctx.clear(&name),
        }
    }
}

/// Reads the state entries `names`, all issued before any is awaited, so
/// they travel together.
async fn load(ctx: &ObjectContext<'_>, names: &[String]) -> HandlerResult<Vec<Loaded>> {
    let loads: Vec<_> = names.iter().map(|name| ctx.get::<Bytes>(name)).collect();
    let mut loaded = Vec::with_capacity(names.len());
    for (name, load) in names.iter().zip(loads) {
        loaded.push((name.clone(), load.await?.map(|bytes| bytes.to_vec())));
    }
    Ok(loaded)
}

/// Cached entries as text, for the journal (state entries are JSON); one
/// that is not text is left out, to be read from Restate.
fn as_text(entries: Vec<(String, Vec<u8>)>) -> Vec<(String, String)> {
    entries
        .into_iter()
        .filter_map(|(name, bytes)| Some((name, String::from_utf8(bytes).ok()?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("k{i}")).collect()
    }

    fn cached(reads: Reads<'_>) -> bool {
        matches!(reads, Reads::Cached(_))
    }

    #[test]
    fn a_batch_uses_the_cache_only_for_enough_entries() {
        let cache = StateCache::default();
        assert!(matches!(Reads::of(None, &names(40), true), Reads::Direct));
        let few = Reads::of(Some(&cache), &names(CACHED_FROM - 1), true);
        assert!(matches!(few, Reads::Invalidating));
        assert!(cached(Reads::of(Some(&cache), &names(CACHED_FROM), true)));
        // What its timers name adds nothing to a batch's choice.
        assert!(!cached(few.with_due(CACHED_FROM - 1, 100)));
        let many = Reads::of(Some(&cache), &names(CACHED_FROM), false);
        assert!(cached(many.with_due(CACHED_FROM, 0)));
    }

    #[test]
    fn a_timer_call_chooses_by_what_is_due() {
        let cache = StateCache::default();
        let timer = Reads::of(Some(&cache), &[], true);
        assert!(cached(timer), "reads the version with the timers");
        assert!(cached(timer.with_due(0, CACHED_FROM)));
        assert!(matches!(
            timer.with_due(0, CACHED_FROM - 1),
            Reads::Invalidating
        ));
        assert!(matches!(timer.with_due(0, 0), Reads::Invalidating));
        assert!(matches!(
            Reads::of(None, &[], true).with_due(0, 99),
            Reads::Direct
        ));
        // A stage without timers has nothing due: its empty call reads no
        // version.
        let untimed = Reads::of(Some(&cache), &[], false);
        assert!(matches!(untimed, Reads::Invalidating));
    }
}

//! `interval_join`: Flink's interval join of two keyed inputs. A left
//! record at `t` joins each right record of its key at `t + lower ..= t +
//! upper`, whichever arrives first; each side is buffered in the key's
//! state until the watermark passes the last time a partner could have.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::process::{ListState, ProcessContext, Timer};
use crate::source::Either;
use crate::time::{EventTimed, Millis, Timed};

/// A record of an interval join: its event time, and the input it is of.
/// Two inputs connected at the source and stamped by one `event_time`
/// give `Timed<Either<L, R>>`; two inputs joined after their own stages
/// give `Either<A, B>` of records that each carry their time.
pub trait JoinRecord: Serialize + 'static {
    /// The first input's records.
    type Left: Serialize + DeserializeOwned + 'static;
    /// The second input's records.
    type Right: Serialize + DeserializeOwned + 'static;
    /// The record's event time.
    fn time(&self) -> Millis;
    /// The record, as the input it is of.
    fn into_side(self) -> Either<Self::Left, Self::Right>;
}

impl<L, R> JoinRecord for Timed<Either<L, R>>
where
    L: Serialize + DeserializeOwned + 'static,
    R: Serialize + DeserializeOwned + 'static,
{
    type Left = L;
    type Right = R;
    fn time(&self) -> Millis {
        self.time
    }
    fn into_side(self) -> Either<L, R> {
        self.value
    }
}

impl<A, B> JoinRecord for Either<A, B>
where
    A: EventTimed + Serialize + DeserializeOwned + 'static,
    B: EventTimed + Serialize + DeserializeOwned + 'static,
{
    type Left = A;
    type Right = B;
    fn time(&self) -> Millis {
        self.either(A::event_time, B::event_time)
    }
    fn into_side(self) -> Either<A, B> {
        self
    }
}

/// The bounds of an interval join, in milliseconds relative to the left
/// record's time, both inclusive (Flink's `between(lower, upper)`).
///
/// ```
/// use stream_runtime::keyed::between;
///
/// let within_5s = between(-5_000, 5_000);
/// assert!(within_5s.holds(10_000, 14_000));
/// assert!(!within_5s.holds(10_000, 15_001));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Between {
    /// The earliest right time, relative to the left's.
    pub lower: Millis,
    /// The latest right time, relative to the left's.
    pub upper: Millis,
}

/// Joins a left record at `t` with right records at `t + lower ..= t +
/// upper`. Panics if `lower > upper`, as Flink refuses such bounds.
pub fn between(lower: Millis, upper: Millis) -> Between {
    assert!(
        lower <= upper,
        "between({lower}, {upper}): the lower bound is after the upper"
    );
    Between { lower, upper }
}

impl Between {
    /// Whether a left record at `left` and a right one at `right` join.
    pub fn holds(&self, left: Millis, right: Millis) -> bool {
        let offset = right.saturating_sub(left);
        self.lower <= offset && offset <= self.upper
    }

    /// Once the watermark reaches this, no right record can still join a
    /// left one at `left`: a right record on time is at the watermark or
    /// after it, past `left + upper`. (Flink drops the left record one
    /// millisecond sooner, so that a right one exactly at the watermark
    /// may miss it.)
    fn left_done(&self, left: Millis) -> Millis {
        left.saturating_add(self.upper).saturating_add(1)
    }

    /// Once the watermark reaches this, no left record can still join a
    /// right one at `right`.
    fn right_done(&self, right: Millis) -> Millis {
        right.saturating_sub(self.lower).saturating_add(1)
    }
}

/// The state names of the two buffers.
const LEFTS: &str = "join.left";
const RIGHTS: &str = "join.right";
/// The state name of the key's pending cleanup timer: the earliest it set
/// that has not fired yet (a later one it superseded may still be set).
const CLEANUP: &str = "join.cleanup";

/// The process function and timer callback of an interval join with
/// `bounds` that emits `join(left, right)` for each pair: a record joins
/// what the other side has buffered, then is buffered itself until it can
/// join nothing more.
///
/// A key keeps one cleanup timer or a few, not one per record as Flink's
/// `IntervalJoinOperator` does: a record sets one only when it is done
/// before the key's pending one, and a firing removes every record whose
/// end the watermark has passed and sets the next at the earliest end of
/// those that remain. The key group's timer index, read by each of its
/// calls and written whole by each that changes it, then holds a few
/// timers per key instead of one per buffered record. What is joined
/// does not change: a record past its end can join no record on time, so
/// removing it sooner or later changes no output. (After a firing that
/// failed, and so was dropped, the key's records wait for its next
/// record to set a timer again.)
///
/// A record behind the watermark (`time < watermark`, Flink's
/// `IntervalJoinOperator.isLate`) is not joined: partners that came before
/// it may have left state, so what it would join depends on timing. It goes
/// to the late-data output (`status.late_records`), as a window's late
/// record does; Flink drops it. A record exactly at the watermark joins
/// every partner it would have joined in order: a buffered record is kept
/// until the watermark is past the last time it can join.
#[allow(clippy::type_complexity)]
pub(crate) fn interval_join<In, K, Out, F>(
    bounds: Between,
    join: F,
) -> (
    impl for<'a> Fn(In, &mut ProcessContext<'a, K, Out>) + Send + Sync + 'static,
    impl for<'a> Fn(Timer, &mut ProcessContext<'a, K, Out>) + Send + Sync + 'static,
)
where
    In: JoinRecord,
    K: 'static,
    Out: 'static,
    F: Fn(&In::Left, &In::Right) -> Out + Send + Sync + 'static,
{
    let on_record = move |record: In, ctx: &mut ProcessContext<'_, K, Out>| {
        let time = record.time();
        if time < ctx.watermark() {
            // Partners that came before it may have left state already.
            ctx.keep_late(serde_json::to_value(&record).unwrap_or_default());
            return;
        }
        match record.into_side() {
            Either::Left(left) => {
                let rights: Vec<(Millis, In::Right)> = ctx.list(RIGHTS).get();
                for (at, right) in &rights {
                    if bounds.holds(time, *at) {
                        ctx.collect(join(&left, right));
                    }
                }
                ctx.list(LEFTS).add((time, left));
                clean_up_by(ctx, bounds.left_done(time));
            }
            Either::Right(right) => {
                let lefts: Vec<(Millis, In::Left)> = ctx.list(LEFTS).get();
                for (at, left) in &lefts {
                    if bounds.holds(*at, time) {
                        ctx.collect(join(left, &right));
                    }
                }
                ctx.list(RIGHTS).add((time, right));
                clean_up_by(ctx, bounds.right_done(time));
            }
        }
    };
    let on_timer = move |_timer: Timer, ctx: &mut ProcessContext<'_, K, Out>| {
        // Every timer of the key that the watermark makes due fires in
        // this visit, so the first removes all it passed.
        let now = ctx.watermark();
        let lefts = keep(&mut ctx.list::<(Millis, In::Left)>(LEFTS), |at| {
            bounds.left_done(at) > now
        });
        let rights = keep(&mut ctx.list::<(Millis, In::Right)>(RIGHTS), |at| {
            bounds.right_done(at) > now
        });
        let pending = ctx.value::<Millis>(CLEANUP).get();
        if pending.is_some_and(|at| at > now) {
            // Not due yet, and no later than any kept record's end.
            return;
        }
        let next = (lefts.into_iter().map(|at| bounds.left_done(at)))
            .chain(rights.into_iter().map(|at| bounds.right_done(at)))
            .min();
        match next {
            Some(at) => {
                ctx.value(CLEANUP).set(at);
                ctx.register_event_timer(at);
            }
            None => ctx.value::<Millis>(CLEANUP).clear(),
        }
    };
    (on_record, on_timer)
}

/// Sets the key's cleanup timer to `at` when the pending one, if any, is
/// later (or already passed: its firing was dropped after it failed).
fn clean_up_by<K, Out>(ctx: &mut ProcessContext<'_, K, Out>, at: Millis) {
    let watermark = ctx.watermark();
    let mut cleanup = ctx.value::<Millis>(CLEANUP);
    if cleanup
        .get()
        .is_none_or(|pending| pending <= watermark || at < pending)
    {
        cleanup.set(at);
        ctx.register_event_timer(at);
    }
}

/// Keeps the buffered records of `list` whose time passes `stays`, and
/// answers their times.
fn keep<V>(list: &mut ListState<'_, (Millis, V)>, stays: impl Fn(Millis) -> bool) -> Vec<Millis>
where
    V: Serialize + DeserializeOwned,
{
    let kept: Vec<_> = list
        .get()
        .into_iter()
        .filter(|(at, _)| stays(*at))
        .collect();
    let times = kept.iter().map(|(at, _)| *at).collect();
    match kept.is_empty() {
        true => list.clear(),
        false => list.update(kept),
    }
    times
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::builder::Pipeline;
    use crate::sink::CollectSink;
    use crate::source::InMemorySource;
    use crate::testing::{stages, GroupSim};
    use crate::time::Watermarks;

    type Side = Either<(u32, Millis), (u32, Millis)>;

    /// One key: lefts and rights of `(key, ms)`, joined within 0..=2 s after.
    fn joined() -> GroupSim<impl crate::stages::Dataflow<Mid = Timed<Side>, Out = (i64, i64)>> {
        let none = || InMemorySource::new(Vec::<(u32, Millis)>::new());
        GroupSim::new(stages(
            Pipeline::named("J")
                .source(none())
                .connect(none())
                .event_time(
                    |e| e.either(|l| l.1, |r| r.1),
                    Watermarks::max_delay(Duration::ZERO),
                )
                .key_by(|e| e.either(|l| l.0, |r| r.0))
                .interval_join(between(0, 2_000), |l, r| (l.1, r.1)),
            CollectSink::new(),
        ))
    }

    fn at(time: Millis, side: Side) -> Timed<Side> {
        Timed { time, value: side }
    }

    #[test]
    fn each_pair_joins_once_whichever_side_came_first_and_buffers_leave_on_the_watermark() {
        let mut group = joined();
        let left = |t| at(t, Either::Left((1, t)));
        let right = |t| at(t, Either::Right((1, t)));
        let (out, _) = group.call(vec![left(1_000), right(500)], None, 0);
        assert!(out.is_empty(), "500 is before the left's interval");
        let (out, _) = group.call(vec![right(2_500), right(3_000), right(3_001)], None, 0);
        assert_eq!(out, [(1_000, 2_500), (1_000, 3_000)], "bounds inclusive");
        let (out, _) = group.call(vec![left(2_000)], None, 0);
        assert_eq!(out, [(2_000, 2_500), (2_000, 3_000), (2_000, 3_001)]);
        // Once the watermark passes every record's last partner time,
        // nothing is buffered and no timer is left.
        let (out, late) = group.call(Vec::new(), Some(10_000), 0);
        assert!(out.is_empty() && late.is_empty());
        assert!(
            group.store.is_empty(),
            "{:?}",
            group.store.keys().collect::<Vec<_>>()
        );
        assert_eq!(group.timers.event_len(), 0);
        // A record behind the watermark joins nothing and is kept as late.
        let (out, late) = group.call(vec![right(9_000)], Some(10_000), 0);
        assert!(out.is_empty());
        assert_eq!(late.len(), 1, "{late:?}");
        assert_eq!(late[0]["time"], 9_000);
    }

    /// A key keeps a cleanup timer or a few, not one per record, and what
    /// the watermark passes still leaves while what it does not stays.
    #[test]
    fn a_key_keeps_one_cleanup_timer_and_records_leave_once_the_watermark_passes_them() {
        let mut group = joined();
        let left = |t| at(t, Either::Left((1, t)));
        let right = |t| at(t, Either::Right((1, t)));
        // Lefts end at t + 2_001, rights at t + 1.
        let records = (0..10).flat_map(|i| [left(1_000 + i * 100), right(1_050 + i * 100)]);
        let (out, _) = group.call(records.collect(), None, 0);
        assert_eq!(out.len(), 55, "each left with every right at or after it");
        assert_eq!(
            group.timers.event_len(),
            2,
            "the first left's end and the first right's, not one per record"
        );
        assert_eq!(group.timers.next_event(), Some(1_051));
        // The rights at 1_050 and 1_150 end by 1_200; the rest stay.
        let (out, _) = group.call(Vec::new(), Some(1_200), 0);
        assert!(out.is_empty());
        assert_eq!(buffered(&group, "join.right")[..2], [1_250, 1_350]);
        assert_eq!(buffered(&group, "join.left").len(), 10);
        assert_eq!(group.timers.event_len(), 2);
        assert_eq!(
            group.timers.next_event(),
            Some(1_251),
            "the next right's end"
        );
        let (out, late) = group.call(vec![left(1_250)], Some(1_200), 0);
        assert!(late.is_empty(), "{late:?}");
        let joined: Vec<i64> = out.iter().map(|(_, r)| *r).collect();
        assert_eq!(
            joined,
            [1_250, 1_350, 1_450, 1_550, 1_650, 1_750, 1_850, 1_950]
        );
        let (out, _) = group.call(vec![right(3_000)], Some(1_200), 0);
        let joined: Vec<i64> = out.iter().map(|(l, _)| *l).collect();
        assert_eq!(joined.len(), 11, "every left from 1_000 on: {joined:?}");
        // Past every record's end, nothing is buffered and no timer is left.
        group.call(Vec::new(), Some(10_000), 0);
        assert!(
            group.store.is_empty(),
            "{:?}",
            group.store.keys().collect::<Vec<_>>()
        );
        assert_eq!(group.timers.event_len(), 0);
    }

    /// The times buffered in the list `name` of the group's one key.
    fn buffered<D: crate::stages::Dataflow>(group: &GroupSim<D>, name: &str) -> Vec<i64> {
        let state = group.store.values().find_map(|bytes| {
            let json: serde_json::Value = serde_json::from_slice(bytes).ok()?;
            json.get(name).cloned()
        });
        let Some(serde_json::Value::Array(list)) = state else {
            panic!("no {name} in {:?}", group.store.keys().collect::<Vec<_>>());
        };
        list.iter().filter_map(|entry| entry[0].as_i64()).collect()
    }

    /// Flink's `isLate` is `timestamp < watermark`: a record exactly at the
    /// watermark is on time, and joins the partner whose interval ends
    /// there (which is still buffered).
    #[test]
    fn a_record_exactly_at_the_watermark_joins_and_one_before_it_is_late() {
        let mut group = joined();
        let left = |t| at(t, Either::Left((1, t)));
        let right = |t| at(t, Either::Right((1, t)));
        let (out, _) = group.call(vec![left(1_000)], None, 0);
        assert!(out.is_empty());
        let (out, late) = group.call(vec![right(3_000)], Some(3_000), 0);
        assert_eq!(out, [(1_000, 3_000)], "on the watermark and on the bound");
        assert!(late.is_empty(), "{late:?}");
        let (out, late) = group.call(vec![right(2_999)], Some(3_000), 0);
        assert!(out.is_empty());
        assert_eq!(late.len(), 1, "one millisecond behind the watermark");
        // Past the left's last partner time, it left state.
        let (out, late) = group.call(vec![right(3_001)], Some(3_001), 0);
        assert!(out.is_empty() && late.is_empty(), "{out:?} {late:?}");
    }
}

//! `interval_join`: Flink's interval join of two keyed inputs. A left
//! record at `t` joins each right record of its key at `t + lower ..= t +
//! upper`, whichever arrives first; each side is buffered in the key's
//! state until the watermark passes the last time a partner could have.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::process::{ProcessContext, Timer};
use crate::source::Either;
use crate::time::{Millis, Timed};

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
    /// left one at `left`.
    fn left_done(&self, left: Millis) -> Millis {
        left.saturating_add(self.upper)
    }

    /// Once the watermark reaches this, no left record can still join a
    /// right one at `right`.
    fn right_done(&self, right: Millis) -> Millis {
        right.saturating_sub(self.lower)
    }
}

/// The state names of the two buffers.
const LEFTS: &str = "join.left";
const RIGHTS: &str = "join.right";

/// The process function and timer callback of an interval join with
/// `bounds` that emits `join(left, right)` for each pair: a record joins
/// what the other side has buffered, then is buffered itself, with an
/// event timer for when it can join nothing more.
///
/// A record already behind the watermark still joins what the other side
/// holds, but is not buffered, since partners that came before it may
/// have left state (Flink drops such a record).
#[allow(clippy::type_complexity)]
pub(crate) fn interval_join<L, R, K, Out, F>(
    bounds: Between,
    join: F,
) -> (
    impl for<'a> Fn(Timed<Either<L, R>>, &mut ProcessContext<'a, K, Out>) + Send + Sync + 'static,
    impl for<'a> Fn(Timer, &mut ProcessContext<'a, K, Out>) + Send + Sync + 'static,
)
where
    L: Serialize + DeserializeOwned + 'static,
    R: Serialize + DeserializeOwned + 'static,
    K: 'static,
    Out: 'static,
    F: Fn(&L, &R) -> Out + Send + Sync + 'static,
{
    let on_record = move |record: Timed<Either<L, R>>, ctx: &mut ProcessContext<'_, K, Out>| {
        let time = record.time;
        let late = time <= ctx.watermark();
        match record.value {
            Either::Left(left) => {
                let rights: Vec<(Millis, R)> = ctx.list(RIGHTS).get();
                for (at, right) in &rights {
                    if bounds.holds(time, *at) {
                        ctx.collect(join(&left, right));
                    }
                }
                if !late {
                    ctx.list(LEFTS).add((time, left));
                    ctx.register_event_timer(bounds.left_done(time));
                }
            }
            Either::Right(right) => {
                let lefts: Vec<(Millis, L)> = ctx.list(LEFTS).get();
                for (at, left) in &lefts {
                    if bounds.holds(*at, time) {
                        ctx.collect(join(left, &right));
                    }
                }
                if !late {
                    ctx.list(RIGHTS).add((time, right));
                    ctx.register_event_timer(bounds.right_done(time));
                }
            }
        }
    };
    let on_timer = move |timer: Timer, ctx: &mut ProcessContext<'_, K, Out>| {
        let now = timer.at;
        let mut lefts = ctx.list::<(Millis, L)>(LEFTS);
        let kept: Vec<_> = lefts
            .get()
            .into_iter()
            .filter(|(at, _)| bounds.left_done(*at) > now)
            .collect();
        match kept.is_empty() {
            true => lefts.clear(),
            false => lefts.update(kept),
        }
        let mut rights = ctx.list::<(Millis, R)>(RIGHTS);
        let kept: Vec<_> = rights
            .get()
            .into_iter()
            .filter(|(at, _)| bounds.right_done(*at) > now)
            .collect();
        match kept.is_empty() {
            true => rights.clear(),
            false => rights.update(kept),
        }
    };
    (on_record, on_timer)
}

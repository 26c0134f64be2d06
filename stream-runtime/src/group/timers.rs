//! A key group's timer service, as plain code: every timer of the group in
//! one small index, so the group needs one wake-up (the earliest), not one
//! per timer, as Flink's `InternalTimerServiceImpl` keeps one per key group.
//!
//! A timer is a time and a tag: the state entry to visit then (a window's
//! pane, or one key's sessions). Firing is driven by state: a visit fires
//! what its entry holds that is due, so a repeated wake-up fires nothing
//! twice.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::time::Millis;

/// Which clock a timer follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TimeDomain {
    /// The watermark: event time.
    Event,
    /// The wall clock at the key group: processing time.
    Processing,
}

/// The group's timers, its watermark and its pending wake-ups: the entry
/// `time` of the key group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timers {
    /// The largest watermark this group has seen.
    #[serde(default)]
    pub watermark: Option<Millis>,
    #[serde(default)]
    event: BTreeMap<Millis, BTreeSet<String>>,
    #[serde(default)]
    processing: BTreeMap<Millis, BTreeSet<String>>,
    /// The earliest event timer the clock was asked to wake us for.
    #[serde(default)]
    pub(crate) need: Option<Millis>,
    /// The outstanding delayed call for processing time: when, and its id.
    #[serde(default)]
    pub(crate) wake: Option<(Millis, String)>,
}

/// A timer that is due, its entry to be visited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// Which clock.
    pub domain: TimeDomain,
    /// When it was set for.
    pub at: Millis,
    /// The state entry it visits.
    pub tag: String,
}

impl Timers {
    /// The watermark so far.
    pub fn watermark(&self) -> Millis {
        self.watermark.unwrap_or(Millis::MIN)
    }

    /// Sets a timer (setting one twice keeps one).
    pub fn add(&mut self, domain: TimeDomain, at: Millis, tag: &str) {
        let index = match domain {
            TimeDomain::Event => &mut self.event,
            TimeDomain::Processing => &mut self.processing,
        };
        index.entry(at).or_default().insert(tag.to_owned());
    }

    /// Takes every timer due at `watermark` (event) or `now` (processing).
    pub fn take_due(&mut self, watermark: Millis, now: Millis) -> Vec<Due> {
        let mut due = Vec::new();
        for (domain, index, until) in [
            (TimeDomain::Event, &mut self.event, watermark),
            (TimeDomain::Processing, &mut self.processing, now),
        ] {
            let later = match until.checked_add(1) {
                Some(next) => index.split_off(&next),
                None => BTreeMap::new(),
            };
            let taken = std::mem::replace(index, later);
            for (at, tags) in taken {
                due.extend(tags.into_iter().map(|tag| Due { domain, at, tag }));
            }
        }
        due
    }

    /// Moves every timer to `into`, each tag under `prefix`: the timers a
    /// join's side set, into its group's (see `keyed/paired/`).
    pub(crate) fn move_into(self, into: &mut Timers, prefix: &str) {
        for (domain, index) in [
            (TimeDomain::Event, self.event),
            (TimeDomain::Processing, self.processing),
        ] {
            for (at, tags) in index {
                for tag in tags {
                    into.add(domain, at, &format!("{prefix}{tag}"));
                }
            }
        }
    }

    /// The earliest event-time timer.
    pub fn next_event(&self) -> Option<Millis> {
        self.event.keys().next().copied()
    }

    /// The earliest processing-time timer.
    pub fn next_processing(&self) -> Option<Millis> {
        self.processing.keys().next().copied()
    }

    /// The number of timers set.
    pub fn len(&self) -> usize {
        self.event
            .values()
            .chain(self.processing.values())
            .map(BTreeSet::len)
            .sum()
    }

    /// The number of event-time timers set.
    pub fn event_len(&self) -> usize {
        self.event.values().map(BTreeSet::len).sum()
    }

    /// Whether no timer is set.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What the group must ask for after a call, so that its earliest timers
/// wake it: at most one outstanding wish per clock.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct WakeUps {
    /// Ask the pipeline's clock to wake the group at this watermark.
    pub need: Option<Millis>,
    /// Schedule a delayed call at this wall-clock time, cancelling the
    /// outstanding one (by id), if any.
    pub wake: Option<(Millis, Option<String>)>,
}

impl Timers {
    /// Which wake-ups to ask for, given whether the call came from the
    /// clock (which forgets a wish it answered) or from a delayed call
    /// (which is then no longer outstanding). Records them as asked.
    pub(crate) fn wake_ups(&mut self, woken_by_clock: bool, woken_at: Option<Millis>) -> WakeUps {
        let mut asks = WakeUps::default();
        if woken_by_clock {
            self.need = None;
        }
        if let Some(next) = self.next_event() {
            if self.need.is_none_or(|asked| next < asked) {
                self.need = Some(next);
                asks.need = Some(next);
            }
        }
        if woken_at.is_some() && self.wake.as_ref().map(|(at, _)| *at) == woken_at {
            self.wake = None;
        }
        if let Some(next) = self.next_processing() {
            if self.wake.as_ref().is_none_or(|(at, _)| next < *at) {
                let cancel = self.wake.take().map(|(_, id)| id);
                asks.wake = Some((next, cancel));
            }
        }
        asks
    }
}

/// The state entry of a group's timers and watermark.
pub(crate) const TIMERS: &str = "time";

/// The last millisecond of processing time that is over at `now`: a
/// processing-time timer or window at `t` fires once the wall clock is past
/// `t`, so a record that arrives during `t` still counts.
pub(crate) fn completed(now: Millis) -> Millis {
    now.saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_timers_are_taken_once_in_time_order() {
        let mut timers = Timers::default();
        timers.add(TimeDomain::Event, 200, "w:b");
        timers.add(TimeDomain::Event, 100, "w:a");
        timers.add(TimeDomain::Event, 100, "w:a");
        timers.add(TimeDomain::Processing, 50, "p");
        assert_eq!(timers.len(), 3);
        let due = timers.take_due(150, 0);
        assert_eq!(due.len(), 1);
        assert_eq!((due[0].at, due[0].tag.as_str()), (100, "w:a"));
        assert!(timers.take_due(150, 0).is_empty());
        let due = timers.take_due(Millis::MAX, 60);
        let tags: Vec<_> = due.iter().map(|d| d.tag.as_str()).collect();
        assert_eq!(tags, ["w:b", "p"]);
        assert!(timers.is_empty());
    }

    #[test]
    fn one_wish_per_clock_is_outstanding() {
        let mut timers = Timers::default();
        timers.add(TimeDomain::Event, 500, "a");
        assert_eq!(timers.wake_ups(false, None).need, Some(500));
        assert_eq!(timers.wake_ups(false, None).need, None, "already asked");
        timers.add(TimeDomain::Event, 300, "b");
        assert_eq!(timers.wake_ups(false, None).need, Some(300), "earlier");
        // The clock answered: the wish is gone, so the next is asked again.
        assert_eq!(timers.wake_ups(true, None).need, Some(300));

        timers.add(TimeDomain::Processing, 1_000, "p");
        let asks = timers.wake_ups(false, None);
        assert_eq!(asks.wake, Some((1_000, None)));
        timers.wake = Some((1_000, "inv_1".into()));
        timers.add(TimeDomain::Processing, 400, "q");
        let asks = timers.wake_ups(false, None);
        assert_eq!(
            asks.wake,
            Some((400, Some("inv_1".into()))),
            "the later one is cancelled"
        );
        timers.wake = Some((400, "inv_2".into()));
        timers.take_due(Millis::MIN, 400);
        let asks = timers.wake_ups(false, Some(400));
        assert_eq!(
            asks.wake,
            Some((1_000, None)),
            "woken: the next is scheduled"
        );
    }
}

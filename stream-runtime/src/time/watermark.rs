//! The pipeline's watermark, as plain code: each split's progress, the
//! least over the splits that are not idle, and which key groups to wake.
//!
//! A token reports each range it finished (after its records reached their
//! key groups). Tokens finish ranges of one split out of order, so a
//! split's watermark only counts the ranges up to the first one still out:
//! a record of an earlier range can never be late because a later range
//! finished first.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Millis;

/// What a token tells the clock about a split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Report {
    pub split: u32,
    pub event: SplitEvent,
}

/// What happened on a split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SplitEvent {
    /// The range `from..from + count` reached its key groups; its largest
    /// timestamp was `max` (none when no record had one).
    Done {
        from: u64,
        count: u32,
        max: Option<Millis>,
    },
    /// The split has had no data for the idle timeout.
    Idle,
    /// A bounded split ends at `at`: once every range before it is done,
    /// it holds nothing back.
    End { at: u64 },
}

/// A key group asks to be woken once the watermark reaches `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Need {
    pub group: u32,
    pub at: Millis,
}

/// One split's progress.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SplitMark {
    /// Every range before this position is done.
    pub done_to: u64,
    /// Ranges done after a gap: start → (end, largest timestamp).
    pub ahead: BTreeMap<u64, (u64, Option<Millis>)>,
    /// The largest timestamp over the ranges before `done_to`.
    pub max: Option<Millis>,
    /// No data for the idle timeout, and none since.
    pub idle: bool,
    /// Where a bounded split ends.
    pub end: Option<u64>,
}

impl SplitMark {
    fn ended(&self) -> bool {
        self.end.is_some_and(|end| self.done_to >= end)
    }

    /// This split's own watermark.
    fn watermark(&self, delay: Millis) -> Millis {
        if self.ended() {
            return Millis::MAX;
        }
        self.max.map_or(Millis::MIN, |max| {
            max.saturating_sub(delay).saturating_sub(1)
        })
    }

    fn done(&mut self, from: u64, count: u32, max: Option<Millis>) {
        let end = from + u64::from(count);
        if end <= self.done_to {
            return; // a repeated report
        }
        self.idle = false;
        self.ahead.insert(from, (end, max));
        while let Some((&start, &(end, max))) = self.ahead.first_key_value() {
            if start > self.done_to {
                break;
            }
            self.ahead.remove(&start);
            self.done_to = self.done_to.max(end);
            self.max = self.max.max(max);
        }
    }
}

/// The clock's state: every split's mark, the pipeline's watermark, and
/// the key groups waiting for it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Clock {
    pub splits: BTreeMap<u32, SplitMark>,
    pub watermark: Option<Millis>,
    pub needs: BTreeMap<u32, Millis>,
}

impl Clock {
    /// The watermark so far (`Millis::MIN` before any).
    pub fn current(&self) -> Millis {
        self.watermark.unwrap_or(Millis::MIN)
    }

    /// Takes in a report on one of `splits` splits. Answers the watermark,
    /// and the key groups to wake now, each with the watermark to give it.
    pub fn report(&mut self, report: Report, splits: u32, delay: Millis) -> Vec<(u32, Millis)> {
        let mark = self.splits.entry(report.split).or_default();
        match report.event {
            SplitEvent::Done { from, count, max } => mark.done(from, count, max),
            SplitEvent::Idle => mark.idle = true,
            SplitEvent::End { at } => mark.end = Some(at),
        }
        self.advance(self.combined(splits, delay))
    }

    /// A key group's wish to be woken at `at`: answered at once when the
    /// watermark is already there.
    pub fn need(&mut self, need: Need) -> Option<Millis> {
        let now = self.current();
        if need.at <= now {
            return Some(now);
        }
        let at = self.needs.entry(need.group).or_insert(need.at);
        *at = (*at).min(need.at);
        None
    }

    /// The least watermark over the splits that are neither idle nor ended.
    /// With none such, the largest over the idle ones (their data so far is
    /// complete), or the end of time when every split ended.
    fn combined(&self, splits: u32, delay: Millis) -> Millis {
        let mark = |split: u32| self.splits.get(&split).cloned().unwrap_or_default();
        let marks: Vec<SplitMark> = (0..splits).map(mark).collect();
        let active = marks.iter().filter(|m| !m.idle && !m.ended());
        if let Some(least) = active.map(|m| m.watermark(delay)).min() {
            return least;
        }
        let idle = marks.iter().filter(|m| !m.ended());
        idle.map(|m| m.watermark(delay))
            .max()
            .unwrap_or(Millis::MAX)
    }

    /// Moves the watermark forward (never back) and takes the key groups
    /// whose wish it reached.
    fn advance(&mut self, to: Millis) -> Vec<(u32, Millis)> {
        let now = self.current().max(to);
        if now > Millis::MIN {
            self.watermark = Some(now);
        }
        let due: Vec<u32> = self
            .needs
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(group, _)| *group)
            .collect();
        due.into_iter()
            .map(|group| {
                self.needs.remove(&group);
                (group, now)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(split: u32, from: u64, count: u32, max: Millis) -> Report {
        let max = Some(max);
        let event = SplitEvent::Done { from, count, max };
        Report { split, event }
    }

    #[test]
    fn a_range_finished_out_of_order_waits_for_the_ranges_before_it() {
        let mut clock = Clock::default();
        clock.report(done(0, 10, 10, 5_000), 1, 100);
        assert_eq!(clock.current(), Millis::MIN, "range 0..10 is still out");
        clock.report(done(0, 0, 10, 1_000), 1, 100);
        assert_eq!(clock.current(), 5_000 - 100 - 1);
        // A repeated report changes nothing.
        clock.report(done(0, 0, 10, 9_000), 1, 100);
        assert_eq!(clock.current(), 4_899);
    }

    #[test]
    fn the_watermark_is_the_least_over_splits_until_one_goes_idle() {
        let mut clock = Clock::default();
        clock.report(done(0, 0, 10, 10_000), 2, 0);
        assert_eq!(clock.current(), Millis::MIN, "split 1 has said nothing");
        clock.report(done(1, 0, 10, 3_000), 2, 0);
        assert_eq!(clock.current(), 2_999);
        let idle = Report {
            split: 1,
            event: SplitEvent::Idle,
        };
        clock.report(idle, 2, 0);
        assert_eq!(clock.current(), 9_999, "the idle split no longer holds it");
        clock.report(done(1, 10, 10, 4_000), 2, 0);
        assert_eq!(clock.current(), 9_999, "it never goes back");
    }

    #[test]
    fn ended_splits_release_everything_and_woken_groups_are_taken_once() {
        let mut clock = Clock::default();
        assert_eq!(clock.need(Need { group: 3, at: 500 }), None);
        assert_eq!(clock.need(Need { group: 3, at: 200 }), None);
        let end = Report {
            split: 0,
            event: SplitEvent::End { at: 10 },
        };
        assert!(clock.report(end, 1, 0).is_empty(), "0..10 is not done yet");
        let woken = clock.report(done(0, 0, 10, 100), 1, 0);
        assert_eq!(woken, [(3, Millis::MAX)]);
        assert!(clock.report(done(0, 0, 10, 100), 1, 0).is_empty());
        assert_eq!(clock.need(Need { group: 3, at: 900 }), Some(Millis::MAX));
    }
}

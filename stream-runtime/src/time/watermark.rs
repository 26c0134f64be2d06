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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Report {
    pub split: u32,
    pub event: SplitEvent,
    /// Wake-ups the range's key groups ask for, when a later keyed stage
    /// waits on theirs: taken before the watermark moves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<Need>,
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
    /// The split has had no data for the idle timeout; its next record
    /// will be at position `at`.
    Idle { at: u64 },
    /// A bounded split ends at `at`: once every range before it is done,
    /// it holds nothing back.
    End { at: u64 },
}

/// A key group asks to be woken once the watermark reaches `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Need {
    pub group: u32,
    pub at: Millis,
    /// The keyed stage of the group: 0 for the first.
    #[serde(default, skip_serializing_if = "is_first")]
    pub level: u32,
}

fn is_first(level: &u32) -> bool {
    *level == 0
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
    /// Where an idle split's next record will be: the clock asks the
    /// source there before the watermark passes this split's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_at: Option<u64>,
    /// Where a bounded split ends.
    pub end: Option<u64>,
    /// The wall-clock time of the first range since the split's last event
    /// that had no event (no record stamped by `event_time`): once that
    /// lasts the idle timeout, the split is idle, as Flink's
    /// `withIdleness` counts only the events its generator sees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_since: Option<Millis>,
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
        own_watermark(self.max, delay)
    }

    /// The split was found dry at position `at` for the idle timeout.
    /// Idle reports are sent, not waited for, so one can come after what
    /// it is older than: a range past `at` (the split had data after it),
    /// or the report of a later dry spell. Taken, it would idle a split
    /// with data, or move its idle point back so that a range before the
    /// later one ended its idleness; it is ignored.
    fn went_idle(&mut self, at: u64) {
        let data_after = self.done_to > at || self.ahead.values().any(|(end, _)| *end > at);
        let older = self.idle_at.is_some_and(|was| was > at);
        if !data_after && !older {
            self.idle = true;
            self.idle_at = Some(at);
        }
    }

    fn done(&mut self, from: u64, count: u32, max: Option<Millis>) {
        let end = from + u64::from(count);
        if end <= self.done_to {
            return; // a repeated report
        }
        // Only an event ends idleness: records filtered out before
        // `event_time` are none. Nor does a range from before where the
        // split went idle: its records are not new data, and its report
        // comes after the idle one when its token took longer than the
        // idle timeout to bring it to its key groups.
        if max.is_some() && self.idle_at.is_none_or(|at| end > at) {
            self.idle = false;
            self.idle_at = None;
            self.quiet_since = None;
        }
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
    /// The waiting groups of the keyed stages after the first, by stage.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub later: BTreeMap<u32, BTreeMap<u32, Millis>>,
    /// The splits `from..to` that hold no watermark back (a join's input
    /// without `event_time`): the pipeline's, not stored.
    #[serde(skip)]
    untimed: Option<(u32, u32)>,
}

/// Whether `split` holds the watermark back: every split but those of a
/// join's input without `event_time` (`untimed`, `from..to`).
pub(crate) fn holds(untimed: Option<(u32, u32)>, split: u32) -> bool {
    untimed.is_none_or(|(from, to)| !(from..to).contains(&split))
}

impl Clock {
    /// The clock of a pipeline whose splits `untimed` hold no watermark
    /// back (see [`holds`]).
    pub fn untimed(mut self, untimed: Option<(u32, u32)>) -> Self {
        self.untimed = untimed;
        self
    }

    /// The watermark so far (`Millis::MIN` before any).
    pub fn current(&self) -> Millis {
        self.watermark.unwrap_or(Millis::MIN)
    }

    /// Takes in a report on one of `splits` splits, when no idle split has
    /// data again. Answers the key groups to wake now, each with the
    /// watermark to give it (see [`settle`](Self::settle)).
    #[cfg(test)]
    pub fn report(&mut self, report: Report, splits: u32, delay: Millis) -> Vec<(u32, Millis)> {
        self.take(report);
        self.settle(splits, delay)
    }

    /// The split of a report on a range with no event, from a split that
    /// is not idle yet: the clock then reads the wall clock for
    /// [`quiet`](Self::quiet).
    pub fn quiet_split(&self, report: &Report) -> Option<u32> {
        let SplitEvent::Done { max: None, .. } = report.event else {
            return None;
        };
        if !holds(self.untimed, report.split) {
            return None; // its ranges never have an event
        }
        let idle = self.splits.get(&report.split).is_some_and(|m| m.idle);
        (!idle).then_some(report.split)
    }

    /// `split` finished a range with no event at wall-clock time `now`: it
    /// goes idle once its ranges have had none for `idle_after`. Only while
    /// no earlier range of the split is still out: one that is may hold an
    /// event, which must not find the split gone idle behind it.
    pub fn quiet(&mut self, split: u32, now: Millis, idle_after: Millis) {
        let mark = self.splits.entry(split).or_default();
        if !mark.ahead.is_empty() {
            return;
        }
        let since = *mark.quiet_since.get_or_insert(now);
        if now.saturating_sub(since) >= idle_after {
            mark.idle = true;
        }
    }

    /// Takes in a report, without moving the watermark yet.
    pub fn take(&mut self, report: Report) {
        let mark = self.splits.entry(report.split).or_default();
        match report.event {
            SplitEvent::Done { from, count, max } => mark.done(from, count, max),
            SplitEvent::Idle { at } => mark.went_idle(at),
            SplitEvent::End { at } => mark.end = Some(at),
        }
    }

    /// The idle splits to ask the source about before the watermark moves:
    /// each `(split, position)` whose own watermark is behind where the
    /// watermark would go. If one has data again, its records must not be
    /// made late by the others' ([`returned`](Self::returned) says so).
    pub fn to_check(&self, splits: u32, delay: Millis) -> Vec<(u32, u64)> {
        let next = self.combined(splits, delay);
        if next <= self.current() {
            return Vec::new();
        }
        self.splits
            .iter()
            .filter(|(split, mark)| **split < splits && mark.idle && !mark.ended())
            .filter(|(split, _)| holds(self.untimed, **split))
            .filter(|(_, mark)| mark.watermark(delay) < next)
            .filter_map(|(split, mark)| Some((*split, mark.idle_at?)))
            .collect()
    }

    /// An idle split has data again: it holds the watermark back at its own
    /// until its records are done, as if it had never gone idle.
    pub fn returned(&mut self, split: u32) {
        if let Some(mark) = self.splits.get_mut(&split) {
            mark.idle = false;
            mark.idle_at = None;
        }
    }

    /// Moves the watermark to the least over the splits (as
    /// [`combined`](Self::combined)). Answers the key groups to wake now,
    /// each with the watermark to give it.
    pub fn settle(&mut self, splits: u32, delay: Millis) -> Vec<(u32, Millis)> {
        self.advance(self.combined(splits, delay))
    }

    /// A key group's wish to be woken at `at`: answered at once when the
    /// watermark is already there.
    pub fn need(&mut self, need: Need) -> Option<Millis> {
        let now = self.current();
        if need.at <= now {
            return Some(now);
        }
        let needs = match need.level {
            0 => &mut self.needs,
            level => self.later.entry(level).or_default(),
        };
        let at = needs.entry(need.group).or_insert(need.at);
        *at = (*at).min(need.at);
        None
    }

    /// Takes the groups of keyed stage `level` (after the first) whose
    /// wish the watermark has reached.
    pub fn due_later(&mut self, level: u32) -> Vec<u32> {
        let now = self.current();
        let Some(needs) = self.later.get_mut(&level) else {
            return Vec::new();
        };
        let due: Vec<u32> = (needs.iter())
            .filter(|(_, at)| **at <= now)
            .map(|(group, _)| *group)
            .collect();
        for group in &due {
            needs.remove(group);
        }
        if needs.is_empty() {
            self.later.remove(&level);
        }
        due
    }

    /// The pipeline's watermark over its splits (see [`combined`]).
    fn combined(&self, splits: u32, delay: Millis) -> Millis {
        let mark = |split: u32| self.splits.get(&split).cloned().unwrap_or_default();
        let timed = (0..splits).filter(|split| holds(self.untimed, *split));
        combined(timed.map(mark).map(|m| Split {
            own: m.watermark(delay),
            idle: m.idle,
            ended: m.ended(),
        }))
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

/// A split's own watermark: the largest time it delivered, less the
/// allowed delay, less 1 (Flink's bounded out-of-orderness generator);
/// `Millis::MIN` before it delivered one.
pub(crate) fn own_watermark(max: Option<Millis>, delay: Millis) -> Millis {
    max.map_or(Millis::MIN, |max| {
        max.saturating_sub(delay).saturating_sub(1)
    })
}

/// A split as the pipeline's watermark sees it.
pub(crate) struct Split {
    /// Its own watermark.
    pub own: Millis,
    /// No event for the idle timeout (or no data now).
    pub idle: bool,
    /// A bounded split read to its end.
    pub ended: bool,
}

/// The least watermark over the splits that are neither idle nor ended.
/// With none such, the largest over the idle ones (their data so far is
/// complete), or the end of time when every split ended.
pub(crate) fn combined(splits: impl Iterator<Item = Split>) -> Millis {
    let (mut least, mut idle) = (None::<Millis>, None::<Millis>);
    for split in splits.filter(|s| !s.ended) {
        let slot = if split.idle { &mut idle } else { &mut least };
        *slot = Some(match (*slot, split.idle) {
            (None, _) => split.own,
            (Some(was), false) => was.min(split.own),
            (Some(was), true) => was.max(split.own),
        });
    }
    least.or(idle).unwrap_or(Millis::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Split `split`'s report of `event`, needing no other split.
    fn report(split: u32, event: SplitEvent) -> Report {
        let needs = Vec::new();
        Report {
            split,
            event,
            needs,
        }
    }

    /// Split `split`'s report that it finished `count` positions from `from`.
    fn done(split: u32, from: u64, count: u32, max: Millis) -> Report {
        let max = Some(max);
        report(split, SplitEvent::Done { from, count, max })
    }

    /// Split `split`'s report that it was asked at position `at` and had no data.
    fn idle(split: u32, at: u64) -> Report {
        report(split, SplitEvent::Idle { at })
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
        clock.report(idle(1, 10), 2, 0);
        assert_eq!(clock.current(), 9_999, "the idle split no longer holds it");
        clock.report(done(1, 10, 10, 4_000), 2, 0);
        assert_eq!(clock.current(), 9_999, "it never goes back");
    }

    /// Split 1's records are all filtered out before `event_time`: its
    /// ranges are done without an event, and after the idle timeout of
    /// them it holds the watermark back no more, until it has an event.
    #[test]
    fn a_split_whose_ranges_have_no_event_goes_idle_after_the_timeout() {
        let quiet = |from| {
            report(
                1,
                SplitEvent::Done {
                    from,
                    count: 10,
                    max: None,
                },
            )
        };
        let mut clock = Clock::default();
        clock.report(done(0, 0, 10, 5_000), 2, 0);
        for (from, now) in [(0, 100), (10, 600), (20, 1_099)] {
            assert_eq!(clock.quiet_split(&quiet(from)), Some(1));
            clock.take(quiet(from));
            clock.quiet(1, now, 1_000);
            clock.settle(2, 0);
            assert_eq!(clock.current(), Millis::MIN, "quiet for {} ms", now - 100);
        }
        assert_eq!(clock.quiet_split(&quiet(30)), Some(1));
        clock.take(quiet(30));
        clock.quiet(1, 1_100, 1_000);
        clock.settle(2, 0);
        assert_eq!(clock.current(), 4_999, "idle after 1 s without an event");
        assert_eq!(clock.quiet_split(&quiet(40)), None, "idle: no clock read");
        // A quiet range done before an earlier one of its split is not
        // counted: the earlier one may hold an event.
        let mut other = Clock::default();
        other.take(quiet(10));
        other.quiet(1, 0, 1_000);
        other.quiet(1, 5_000, 1_000);
        assert!(!other.splits[&1].idle && other.splits[&1].quiet_since.is_none());
        assert!(clock.to_check(2, 0).is_empty(), "not asked: it has data");
        // An event brings it back: it holds the watermark at its own.
        clock.report(done(1, 40, 10, 3_000), 2, 0);
        clock.report(done(0, 10, 10, 9_000), 2, 0);
        assert_eq!(clock.current(), 4_999, "split 1 is at 2,999 now");
        clock.report(done(1, 50, 10, 7_000), 2, 0);
        assert_eq!(clock.current(), 6_999);
    }

    /// A token whose range takes longer than the idle timeout to reach its
    /// key groups reports it after another token found the split dry for
    /// that long and reported it idle. The range is from before the idle
    /// point: it moves the split's own watermark but does not end its
    /// idleness, else the split would hold the watermark back with no
    /// data to come (until the split had data again).
    #[test]
    fn a_range_reported_after_its_split_went_idle_does_not_bring_it_back() {
        let mut clock = Clock::default();
        clock.report(done(0, 0, 10, 9_000), 2, 0);
        clock.report(done(1, 0, 10, 3_000), 2, 0);
        clock.report(idle(1, 20), 2, 0);
        assert_eq!(clock.current(), 8_999, "split 1 is idle");
        clock.report(done(1, 10, 10, 4_000), 2, 0);
        assert!(
            clock.splits[&1].idle,
            "its range 10..20 is before the idle point"
        );
        clock.report(done(0, 10, 10, 12_000), 2, 0);
        assert_eq!(clock.current(), 11_999, "split 1 holds nothing back");
        clock.report(done(1, 20, 10, 5_000), 2, 0);
        assert!(!clock.splits[&1].idle, "data after the idle point");
        clock.report(done(0, 20, 10, 20_000), 2, 0);
        assert_eq!(
            clock.current(),
            11_999,
            "split 1 holds it at its own, 4,999"
        );
    }

    /// An idle report comes after a range past its position: the split
    /// had data after it, so it stays as it is. An idle report of an
    /// earlier dry spell comes after a later one's: the idle point stays
    /// the later one, so a range between the two does not end idleness.
    #[test]
    fn an_idle_report_older_than_what_the_clock_took_changes_nothing() {
        let mut clock = Clock::default();
        clock.report(done(0, 0, 10, 9_000), 2, 0);
        clock.report(done(1, 0, 10, 3_000), 2, 0);
        clock.report(done(1, 10, 10, 4_000), 2, 0);
        clock.report(idle(1, 10), 2, 0);
        assert!(
            !clock.splits[&1].idle,
            "range 10..20 came after the idle point"
        );
        assert_eq!(clock.current(), 3_999, "split 1 holds the watermark");
        clock.report(done(1, 30, 10, 5_000), 2, 0);
        clock.report(idle(1, 20), 2, 0);
        assert!(!clock.splits[&1].idle, "range 30..40, ahead, came after 20");
        let mut clock = Clock::default();
        clock.report(done(0, 0, 10, 9_000), 2, 0);
        clock.report(done(1, 0, 10, 3_000), 2, 0);
        clock.report(idle(1, 40), 2, 0);
        clock.report(idle(1, 20), 2, 0);
        assert_eq!(clock.splits[&1].idle_at, Some(40), "the later dry spell's");
        clock.report(done(1, 20, 10, 4_000), 2, 0);
        assert!(clock.splits[&1].idle, "range 20..30 is before 40");
        assert_eq!(clock.current(), 8_999);
    }

    #[test]
    fn an_idle_split_with_data_again_holds_the_watermark_before_the_others_move_it() {
        let mut clock = Clock::default();
        clock.report(done(0, 0, 10, 5_000), 2, 0);
        clock.report(done(1, 0, 10, 5_000), 2, 0);
        for split in [0, 1] {
            clock.report(idle(split, 10), 2, 0);
        }
        assert_eq!(clock.current(), 4_999);
        // Split 0 has data again and its range is done first: before the
        // watermark follows it, split 1 (behind it) is asked about.
        clock.take(done(0, 10, 10, 20_000));
        assert_eq!(clock.to_check(2, 0), [(1, 10)]);
        clock.returned(1);
        assert!(clock.to_check(2, 0).is_empty());
        clock.settle(2, 0);
        assert_eq!(clock.current(), 4_999, "split 1 holds it");
        clock.report(done(1, 10, 10, 15_000), 2, 0);
        assert_eq!(clock.current(), 14_999);
        // Asked and still without data: it stays idle, and holds nothing.
        clock.report(idle(1, 20), 2, 0);
        clock.take(done(0, 20, 10, 30_000));
        assert_eq!(clock.to_check(2, 0), [(1, 20)]);
        clock.settle(2, 0);
        assert_eq!(clock.current(), 29_999);
        // An idle split ahead of where the watermark goes is not asked.
        clock.report(done(1, 20, 10, 90_000), 2, 0);
        clock.report(idle(1, 30), 2, 0);
        clock.take(done(0, 30, 10, 31_000));
        assert_eq!(clock.to_check(2, 0), []);
    }

    #[test]
    fn ended_splits_release_everything_and_woken_groups_are_taken_once() {
        let mut clock = Clock::default();
        assert_eq!(
            clock.need(Need {
                group: 3,
                at: 500,
                level: 0
            }),
            None
        );
        assert_eq!(
            clock.need(Need {
                group: 3,
                at: 200,
                level: 0
            }),
            None
        );
        let end = Report {
            split: 0,
            event: SplitEvent::End { at: 10 },
            needs: Vec::new(),
        };
        assert!(clock.report(end, 1, 0).is_empty(), "0..10 is not done yet");
        let woken = clock.report(done(0, 0, 10, 100), 1, 0);
        assert_eq!(woken, [(3, Millis::MAX)]);
        assert!(clock.report(done(0, 0, 10, 100), 1, 0).is_empty());
        assert_eq!(
            clock.need(Need {
                group: 3,
                at: 900,
                level: 0
            }),
            Some(Millis::MAX)
        );
    }
}

//! The check of a join after stages (the chaos run's `join-after-stages`
//! row): windowed counts per key joined with each key's running count,
//! the join numbering what it sees per key in its own state. Each window
//! must come once with its count, each running count `1..=n` once, and
//! each key's numbers `1..=windows + n` once: every stage, the join's
//! included, exactly once.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// One result of the join: a window's count (`start` set) or a running
/// count, with the join's number for it under its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinedLine {
    /// The key.
    pub word: String,
    /// The window's start, for a window's count.
    pub start: Option<i64>,
    /// The window's count, or the running count.
    pub count: u64,
    /// How many records of its key the join had seen, this one included.
    pub seen: u64,
}

/// What the file lacks and has beyond once, and what else is wrong.
#[derive(Debug, Default)]
pub struct JoinedCheck {
    /// Expected results missing.
    pub lost: u64,
    /// Results beyond once, wrong, or not a result.
    pub duplicated: u64,
    /// What is wrong, in words.
    pub violations: Vec<String>,
}

/// How often each of `1..=n` was seen, and what was seen outside it.
#[derive(Default)]
struct Numbers {
    seen: Vec<u32>,
    outside: u64,
}

impl Numbers {
    fn add(&mut self, n: u64, of: u64) {
        if self.seen.len() < of as usize {
            self.seen.resize(of as usize, 0);
        }
        match n.checked_sub(1).and_then(|i| self.seen.get_mut(i as usize)) {
            Some(count) if n <= of => *count += 1,
            _ => self.outside += 1,
        }
    }

    /// The numbers `1..=of` missing, and those beyond once.
    fn tally(&self, of: u64) -> (u64, u64) {
        let within = &self.seen[..(of as usize).min(self.seen.len())];
        let missing = of - within.iter().filter(|c| **c > 0).count() as u64;
        let extra = self.outside
            + within
                .iter()
                .map(|c| u64::from(c.saturating_sub(1)))
                .sum::<u64>();
        (missing, extra)
    }
}

/// Checks `output` against the input's `windows` ((key, start) → count)
/// and `counts` (key → records).
pub fn check_joined(
    output: &Path,
    windows: &BTreeMap<(String, i64), u64>,
    counts: &BTreeMap<String, u64>,
) -> Result<JoinedCheck, String> {
    let text = std::fs::read_to_string(output).map_err(|e| format!("{}: {e}", output.display()))?;
    let mut check = JoinedCheck::default();
    let mut got_windows: BTreeMap<(String, i64), Vec<u64>> = BTreeMap::new();
    let mut running: BTreeMap<String, Numbers> = BTreeMap::new();
    let mut numbers: BTreeMap<String, Numbers> = BTreeMap::new();
    let per_key = |word: &str| {
        let windows = windows.keys().filter(|(w, _)| w == word).count() as u64;
        windows + counts.get(word).copied().unwrap_or(0)
    };
    let mut malformed = 0u64;
    for line in text.lines() {
        let Ok(joined) = serde_json::from_str::<JoinedLine>(line) else {
            malformed += 1;
            continue;
        };
        let of = per_key(&joined.word);
        numbers
            .entry(joined.word.clone())
            .or_default()
            .add(joined.seen, of);
        match joined.start {
            Some(start) => got_windows
                .entry((joined.word, start))
                .or_default()
                .push(joined.count),
            None => {
                let n = counts.get(&joined.word).copied().unwrap_or(0);
                running.entry(joined.word).or_default().add(joined.count, n);
            }
        }
    }
    for (window, count) in windows {
        match got_windows.remove(window).as_deref() {
            None => check.lost += 1,
            Some([got]) if got == count => {}
            Some(got) => {
                check.duplicated += got.len() as u64 - u64::from(got.contains(count));
                check.lost += u64::from(!got.contains(count));
            }
        }
    }
    check.duplicated += got_windows.values().map(|v| v.len() as u64).sum::<u64>();
    let (mut counts_lost, mut counts_extra) = (0, 0);
    let (mut numbers_lost, mut numbers_extra) = (0, 0);
    for (word, n) in counts {
        let (missing, extra) = running.get(word).map_or((*n, 0), |seen| seen.tally(*n));
        counts_lost += missing;
        counts_extra += extra;
        let of = per_key(word);
        let (missing, extra) = numbers.get(word).map_or((of, 0), |seen| seen.tally(of));
        numbers_lost += missing;
        numbers_extra += extra;
    }
    check.lost += counts_lost;
    check.duplicated += counts_extra + malformed;
    if check.lost + check.duplicated > 0 {
        check.violations.push(format!(
            "{} windows or running counts lost, {} extra or wrong, {malformed} malformed lines",
            check.lost, check.duplicated
        ));
    }
    if numbers_lost + numbers_extra > 0 {
        check.violations.push(format!(
            "the join's own numbering per key lacks {numbers_lost} and has {numbers_extra} extra: its state saw a record other than once"
        ));
    }
    Ok(check)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(word: &str, start: Option<i64>, count: u64, seen: u64) -> String {
        let joined = JoinedLine {
            word: word.to_owned(),
            start,
            count,
            seen,
        };
        serde_json::to_string(&joined).unwrap_or_default()
    }

    #[test]
    fn a_repeat_a_loss_and_a_renumbering_are_each_found() {
        let windows = BTreeMap::from([(("a".to_owned(), 0), 2)]);
        let counts = BTreeMap::from([("a".to_owned(), 2)]);
        let file = std::env::temp_dir().join(format!("joined-check-{}", std::process::id()));
        let exact = [
            line("a", None, 1, 1),
            line("a", None, 2, 2),
            line("a", Some(0), 2, 3),
        ];
        std::fs::write(&file, exact.join("\n")).unwrap_or_default();
        let check = check_joined(&file, &windows, &counts).unwrap_or_default();
        assert_eq!(
            (check.lost, check.duplicated),
            (0, 0),
            "{:?}",
            check.violations
        );
        let repeated = [exact[0].clone(), exact[0].clone(), exact[2].clone()];
        std::fs::write(&file, repeated.join("\n")).unwrap_or_default();
        let check = check_joined(&file, &windows, &counts).unwrap_or_default();
        assert_eq!(
            (check.lost, check.duplicated),
            (1, 1),
            "{:?}",
            check.violations
        );
        assert_eq!(
            check.violations.len(),
            2,
            "the numbering too: {:?}",
            check.violations
        );
        let _ = std::fs::remove_file(&file);
    }
}

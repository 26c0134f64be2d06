//! The exactly-once check of a running word count's output: for a word seen
//! n times in the input, the file must hold the counts 1..n, each once; or,
//! when the count emits each word's latest value once per batch, some of
//! them, each at most once, n among them.
//!
//! The file is streamed and each word's counts are kept as a bitset, so a
//! check of tens of millions of lines needs a few megabytes.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use serde::Deserialize;

/// What a file of running counts held, against the input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CountCheck {
    /// Lines in the file.
    pub lines: u64,
    /// Running counts the input implies but the file lacks.
    pub lost: u64,
    /// Lines beyond one per running count: repeats, counts past a word's
    /// total, and words not in the input.
    pub duplicated: u64,
    /// Lines that are not a `{"word": .., "count": ..}` record.
    pub malformed: u64,
    /// The first malformed line, with its number.
    pub first_malformed: Option<String>,
}

impl CountCheck {
    /// Whether the file holds every running count exactly once.
    pub fn exact(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.malformed == 0
    }
}

/// How often each key occurs among the input records `0..records`.
pub fn expected_counts(records: u64, key: impl Fn(u64) -> String) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for n in 0..records {
        *counts.entry(key(n)).or_insert(0) += 1;
    }
    counts
}

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    word: Cow<'a, str>,
    count: u64,
}

/// The counts of one word seen so far, one bit each.
struct Seen {
    total: u64,
    bits: Vec<u64>,
}

impl Seen {
    fn new(total: u64) -> Self {
        let words = usize::try_from(total.div_ceil(64)).unwrap_or(usize::MAX);
        Self {
            total,
            bits: vec![0; words],
        }
    }

    /// Marks `count`; false when it is out of range or already marked.
    fn mark(&mut self, count: u64) -> bool {
        if count == 0 || count > self.total {
            return false;
        }
        let (word, bit) = ((count - 1) / 64, (count - 1) % 64);
        let Some(slot) = usize::try_from(word)
            .ok()
            .and_then(|w| self.bits.get_mut(w))
        else {
            return false;
        };
        let fresh = *slot & (1 << bit) == 0;
        *slot |= 1 << bit;
        fresh
    }

    fn marked(&self) -> u64 {
        self.bits.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    /// Whether `count` is marked.
    fn has(&self, count: u64) -> bool {
        let Some(index) = count.checked_sub(1) else {
            return false;
        };
        let word = usize::try_from(index / 64).ok();
        word.and_then(|w| self.bits.get(w))
            .is_some_and(|slot| slot & (1 << (index % 64)) != 0)
    }
}

/// Checks running counts one at a time, from wherever they were written
/// (a file, a topic, a table), against the input's counts.
pub struct CountChecker<'a> {
    seen: HashMap<&'a str, Seen>,
    check: CountCheck,
    /// Each word's latest count per batch, not every count.
    latest: bool,
}

impl<'a> CountChecker<'a> {
    /// A checker expecting each word's counts 1..n, for n in `expected`.
    pub fn new(expected: &'a BTreeMap<String, u64>) -> Self {
        let seen = expected
            .iter()
            .map(|(word, total)| (word.as_str(), Seen::new(*total)))
            .collect();
        Self {
            seen,
            check: CountCheck::default(),
            latest: false,
        }
    }

    /// A checker for a count that emits each word's latest value once per
    /// batch: any of the counts 1..n, each at most once, and n.
    pub fn latest(expected: &'a BTreeMap<String, u64>) -> Self {
        Self {
            latest: true,
            ..Self::new(expected)
        }
    }

    /// One written `{"word": .., "count": ..}` record, as JSON text.
    pub fn line(&mut self, line: &str) {
        self.check.lines += 1;
        match serde_json::from_str::<Line>(line.trim_end()) {
            Ok(record) => self.mark(&record.word, record.count),
            Err(e) => {
                self.check.malformed += 1;
                if self.check.first_malformed.is_none() {
                    let text: String = line.trim_end().chars().take(200).collect();
                    let number = self.check.lines;
                    self.check.first_malformed = Some(format!("line {number} ({e}): {text:?}"));
                }
            }
        }
    }

    /// One written running count, already decoded (a table's row).
    pub fn count(&mut self, word: &str, count: u64) {
        self.check.lines += 1;
        self.mark(word, count);
    }

    fn mark(&mut self, word: &str, count: u64) {
        let fresh = self
            .seen
            .get_mut(word)
            .is_some_and(|counts| counts.mark(count));
        if !fresh {
            self.check.duplicated += 1;
        }
    }

    /// What was found: every count never seen as lost, or, for the latest
    /// counts, every word whose total was never seen.
    pub fn finish(mut self) -> CountCheck {
        self.check.lost = match self.latest {
            false => self.seen.values().map(|s| s.total - s.marked()).sum(),
            true => self.seen.values().filter(|s| !s.has(s.total)).count() as u64,
        };
        self.check
    }
}

/// Checks the running counts in the file at `path` against `expected`.
pub fn check_running_counts(
    path: &Path,
    expected: &BTreeMap<String, u64>,
) -> io::Result<CountCheck> {
    check_file(path, CountChecker::new(expected))
}

/// Checks the latest counts per batch in the file at `path` against
/// `expected` (see [`CountChecker::latest`]).
pub fn check_latest_counts(
    path: &Path,
    expected: &BTreeMap<String, u64>,
) -> io::Result<CountCheck> {
    check_file(path, CountChecker::latest(expected))
}

fn check_file(path: &Path, mut checker: CountChecker<'_>) -> io::Result<CountCheck> {
    let mut reader = BufReader::with_capacity(1 << 20, File::open(path)?);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        checker.line(&line);
    }
    Ok(checker.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(lines: &str, expected: &[(&str, u64)]) -> CountCheck {
        let dir = std::env::temp_dir().join(format!("running-counts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(format!("{}.jsonl", lines.len()));
        std::fs::write(&path, lines).expect("write");
        let expected = expected.iter().map(|(w, n)| (w.to_string(), *n)).collect();
        let result = check_running_counts(&path, &expected).expect("check");
        let _ = std::fs::remove_file(&path);
        result
    }

    #[test]
    fn latest_counts_need_each_total_and_no_repeat() {
        let expected: BTreeMap<String, u64> = [("a".to_string(), 5), ("b".to_string(), 2)].into();
        let mut checker = CountChecker::latest(&expected);
        for (word, count) in [("a", 2), ("a", 5), ("b", 1)] {
            checker.count(word, count);
        }
        let result = checker.finish();
        assert_eq!((result.lost, result.duplicated), (1, 0), "b's 2 is missing");
        let mut checker = CountChecker::latest(&expected);
        for (word, count) in [("a", 5), ("a", 5), ("b", 2)] {
            checker.count(word, count);
        }
        let result = checker.finish();
        assert_eq!((result.lost, result.duplicated), (0, 1), "a's 5 twice");
    }

    #[test]
    fn exact_output_passes() {
        let lines = "{\"word\":\"a\",\"count\":1}\n{\"word\":\"b\",\"count\":1,\"seq\":9}\n{\"word\":\"a\",\"count\":2}\n";
        let result = check(lines, &[("a", 2), ("b", 1)]);
        assert!(result.exact(), "{result:?}");
        assert_eq!(result.lines, 3);
    }

    #[test]
    fn finds_lost_duplicated_and_malformed_lines() {
        let lines = "{\"word\":\"a\",\"count\":1}\n{\"word\":\"a\",\"count\":1}\n{\"word\":\"a\",\"count\":70}\n{\"word\":\"z\",\"count\":1}\n{\"word\":\"a\",\"cou\n";
        let result = check(lines, &[("a", 65), ("b", 1)]);
        assert_eq!(result.lost, 64 + 1);
        assert_eq!(result.duplicated, 3);
        assert_eq!(result.malformed, 1);
        assert!(result
            .first_malformed
            .is_some_and(|m| m.starts_with("line 5")));
    }
}

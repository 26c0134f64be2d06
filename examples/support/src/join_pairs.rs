//! The exactly-once check of an interval join's output: every pair of
//! sequence numbers the join's rule admits, once, and nothing else.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

/// Every pair `(left, right)` of numbers `0..records` in one block of
/// `block` consecutive numbers whose times, by `time`, are at most
/// `within` milliseconds apart, either way.
pub fn expected_pairs(
    records: u64,
    block: u64,
    within: i64,
    time: impl Fn(u64) -> i64,
) -> Vec<(u64, u64)> {
    let mut pairs = Vec::new();
    for left in 0..records {
        let first = left / block * block;
        for right in first..(first + block).min(records) {
            if (time(right) - time(left)).abs() <= within {
                pairs.push((left, right));
            }
        }
    }
    pairs
}

/// What the output held, against the expected pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PairCheck {
    /// Expected pairs the output lacks.
    pub lost: u64,
    /// Pairs beyond one per expected pair, or not expected at all.
    pub duplicated: u64,
    /// Records that are not a pair.
    pub malformed: u64,
}

/// Counts each pair in `values` (JSON `[left, right]`).
pub fn count_pairs<'a>(
    values: impl IntoIterator<Item = &'a [u8]>,
) -> (BTreeMap<(u64, u64), u64>, u64) {
    let mut pairs = BTreeMap::new();
    let mut malformed = 0;
    for value in values {
        match serde_json::from_slice::<(u64, u64)>(value) {
            Ok(pair) => *pairs.entry(pair).or_insert(0) += 1,
            Err(_) => malformed += 1,
        }
    }
    (pairs, malformed)
}

/// Each expected pair once in `got`, and nothing else.
pub fn check_pairs(
    expected: &[(u64, u64)],
    got: &BTreeMap<(u64, u64), u64>,
    malformed: u64,
) -> PairCheck {
    let wanted: BTreeSet<_> = expected.iter().collect();
    let lost = expected.iter().filter(|p| !got.contains_key(p)).count() as u64;
    let duplicated = (got.iter())
        .map(|(pair, times)| match wanted.contains(pair) {
            true => times - 1,
            false => *times,
        })
        .sum();
    PairCheck {
        lost,
        duplicated,
        malformed,
    }
}

/// Checks a file of pairs, one JSON `[left, right]` per line.
pub fn check_pairs_file(path: &Path, expected: &[(u64, u64)]) -> io::Result<PairCheck> {
    let lines: Vec<String> = BufReader::new(File::open(path)?)
        .lines()
        .collect::<io::Result<_>>()?;
    let (got, malformed) = count_pairs(lines.iter().map(|l| l.as_bytes()));
    Ok(check_pairs(expected, &got, malformed))
}

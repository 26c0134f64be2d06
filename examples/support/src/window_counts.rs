//! The exactly-once check of windowed counts: every (key, window) of the
//! input in the file once, with its exact count.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// A key's count in one window, one line of the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowCount {
    /// The key.
    pub word: String,
    /// The window's start, in milliseconds.
    pub start: i64,
    /// Records of the key in the window.
    pub count: u64,
}

impl From<stream_runtime::window::Windowed<String, u64>> for WindowCount {
    /// A window's count, as the file holds it.
    fn from(w: stream_runtime::window::Windowed<String, u64>) -> Self {
        Self {
            word: w.key,
            start: w.start,
            count: w.value,
        }
    }
}

/// Each key's count in each tumbling window of `window_ms` over the input
/// records `0..records`, keyed by `key` and timed by `time`.
pub fn expected_windows(
    records: u64,
    window_ms: i64,
    key: impl Fn(u64) -> String,
    time: impl Fn(u64) -> i64,
) -> BTreeMap<(String, i64), u64> {
    let mut windows = BTreeMap::new();
    for n in 0..records {
        let start = time(n).div_euclid(window_ms) * window_ms;
        *windows.entry((key(n), start)).or_insert(0) += 1;
    }
    windows
}

/// Adds a key's count in a window to the window's top 3: the largest
/// count first, ties by the larger key, so the order counts arrive in
/// cannot change it.
pub fn top3(top: &mut Vec<(u64, String)>, counted: stream_runtime::window::Windowed<String, u64>) {
    top.push((counted.value, counted.key));
    top.sort_by(|a, b| b.cmp(a));
    top.truncate(3);
}

/// The 3 largest counts of each window of `windows` (tumbling, of
/// `window_ms`), with their keys: what a second keyed stage ranking the
/// first's window counts must write.
pub fn top_of(
    windows: &BTreeMap<(String, i64), u64>,
    window_ms: i64,
) -> BTreeMap<(String, i64), u64> {
    let mut tops = BTreeMap::<i64, Vec<(u64, String)>>::new();
    for ((word, start), count) in windows {
        let counted = stream_runtime::window::Windowed {
            key: word.clone(),
            start: *start,
            end: start + window_ms,
            value: *count,
        };
        top3(tops.entry(*start).or_default(), counted);
    }
    let mut top = BTreeMap::new();
    for (start, ranked) in tops {
        for (count, word) in ranked {
            top.insert((word, start), count);
        }
    }
    top
}

/// What a file of window counts held, against the input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowCheck {
    /// Windows the input implies that the file lacks.
    pub lost: u64,
    /// Lines beyond one per window, or with a wrong count, or for a window
    /// not in the input.
    pub duplicated: u64,
    /// Lines that are not a window count.
    pub malformed: u64,
}

impl WindowCheck {
    /// Whether the file holds every window exactly once, exactly.
    pub fn exact(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.malformed == 0
    }
}

/// Checks the file at `path` against `expected`.
pub fn check_window_counts(
    path: &Path,
    expected: &BTreeMap<(String, i64), u64>,
) -> io::Result<WindowCheck> {
    let mut seen: BTreeMap<(String, i64), u64> = BTreeMap::new();
    let mut check = WindowCheck::default();
    for line in BufReader::new(File::open(path)?).lines() {
        let Ok(result) = serde_json::from_str::<WindowCount>(&line?) else {
            check.malformed += 1;
            continue;
        };
        let window = (result.word, result.start);
        let right = expected.get(&window) == Some(&result.count);
        let times = seen.entry(window).or_insert(0);
        *times += 1;
        if !right || *times > 1 {
            check.duplicated += 1;
        }
    }
    check.lost = expected.keys().filter(|w| !seen.contains_key(*w)).count() as u64;
    Ok(check)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_or_wrong_window_is_duplicated_and_a_missing_one_lost() {
        let expected = expected_windows(30, 10, |n| format!("k{}", n % 2), |n| n as i64);
        assert_eq!(expected.len(), 6);
        assert_eq!(expected[&("k0".to_owned(), 10)], 5);
        let path = std::env::temp_dir().join(format!("window-check-{}", std::process::id()));
        let line = |word: &str, start: i64, count: u64| {
            let result = WindowCount {
                word: word.into(),
                start,
                count,
            };
            serde_json::to_string(&result).unwrap_or_default()
        };
        let mut lines: Vec<String> = expected
            .iter()
            .skip(1)
            .map(|((word, start), count)| line(word, *start, *count))
            .collect();
        lines.push(line("k1", 0, 5));
        lines.push(line("k1", 10, 4));
        std::fs::write(&path, lines.join("\n")).unwrap_or_default();
        let check = check_window_counts(&path, &expected).unwrap_or_default();
        let _ = std::fs::remove_file(&path);
        assert_eq!((check.lost, check.duplicated, check.malformed), (1, 2, 0));
    }
}

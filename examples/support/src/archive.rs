//! The check of a raw archive (a branch that writes every record as it
//! is): each record `0..records` once.

use std::path::Path;

/// Each record `0..records` once in the archive, one JSON number a line:
/// the records it lacks, and those beyond once (or lines that are not a
/// record).
pub fn check_archive(archive: &Path, records: u64) -> Result<(u64, u64), String> {
    let text =
        std::fs::read_to_string(archive).map_err(|e| format!("{}: {e}", archive.display()))?;
    let mut seen = vec![0u64; records as usize];
    let mut extra = 0u64;
    for line in text.lines() {
        let n = serde_json::from_str::<u64>(line).ok();
        match n.and_then(|n| seen.get_mut(usize::try_from(n).ok()?)) {
            Some(count) => *count += 1,
            None => extra += 1,
        }
    }
    let lost = seen.iter().filter(|c| **c == 0).count() as u64;
    let duplicated = extra + seen.iter().map(|c| c.saturating_sub(1)).sum::<u64>();
    Ok((lost, duplicated))
}

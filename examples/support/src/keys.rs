//! Deterministic, skewed keys for the fault-injection runs and the bench.

pub use stream_runtime::source::mix64 as mix;

/// The rank (0 to `keys - 1`) of sequence number `n` among `keys` keys,
/// Zipf-skewed: rank `r` is drawn with weight about 1/(r+1).
pub fn zipf_rank(n: u64, keys: u64) -> u64 {
    let unit = (mix(n) >> 11) as f64 / (1u64 << 53) as f64;
    let rank = ((keys as f64 + 1.0).powf(unit) - 1.0) as u64;
    rank.min(keys.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_are_in_range_and_skewed() {
        let mut counts = [0u32; 10];
        for n in 0..100_000 {
            counts[zipf_rank(n, 10) as usize] += 1;
        }
        assert!(counts.iter().all(|c| *c > 0));
        assert!(counts[0] > 3 * counts[9], "{counts:?}");
    }
}

//! What the integration tests, the chaos tool (`examples/chaos/`) and the
//! bench (`examples/bench/`) share, written once: free ports, the keyed
//! state as the server stores it, skewed keys, the exactly-once checks of a
//! running word count's, of windowed counts' and of an interval join's
//! output, the fault-injection driver, and a WebDriver client for headless
//! Chromium.

pub mod archive;
pub mod chaos;
pub mod join_pairs;
pub mod joined_stages;
pub mod kafka;
pub mod keys;
pub mod lookups;
pub mod ports;
pub mod postgres;
pub mod random_pipelines;
pub mod running_counts;
pub mod servers;
pub mod state;
pub mod webdriver;
pub mod window_counts;

/// A table cell for an output check: `yes`, or what was wrong.
pub fn exactness(lost: u64, duplicated: u64, malformed: u64) -> String {
    if lost == 0 && duplicated == 0 && malformed == 0 {
        "yes".to_owned()
    } else {
        format!("NO: lost {lost}, duplicated {duplicated}, malformed {malformed}")
    }
}

pub use ports::free_port;

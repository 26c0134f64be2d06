//! Examples, integration tests and benchmarks of `stream-runtime`.
//!
//! The library part holds what the tests, the chaos soak (`just chaos`) and
//! the bench share: the fault-injection driver, the skewed key generator and
//! the exactly-once check of a running word count's output.

pub mod chaos;
pub mod keys;
pub mod running_counts;

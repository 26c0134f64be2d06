//! Examples, integration tests and benchmarks of `stream-runtime`.
//!
//! The library part holds the fault-injection driver shared by the kill
//! test (`tests/integration/chaos.rs`) and the soak (`just chaos`).

pub mod chaos;
pub mod keys;

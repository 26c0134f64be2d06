//! Examples, integration tests and benchmarks of `stream-runtime` live in this package.

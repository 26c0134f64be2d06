//! The README and the guide's chapters (`docs/src/`), as documentation of
//! this crate, so that `cargo test --workspace --all-features` compiles and
//! runs every Rust block in them. The blocks that reach a server are
//! `no_run`: compiled, not run.
#![doc = include_str!("../README.md")]

macro_rules! chapters {
    ($($(#[$attr:meta])* $module:ident = $file:literal),* $(,)?) => {
        $(
            $(#[$attr])*
            #[doc = include_str!(concat!("src/", $file))]
            pub mod $module {}
        )*
    };
}

chapters! {
    introduction = "introduction.md",
    getting_started = "getting-started.md",
    dsl = "dsl.md",
    time = "time.md",
    // Their blocks use the Kafka and PostgreSQL connectors.
    #[cfg(feature = "connectors")]
    graphs = "graphs.md",
    #[cfg(feature = "connectors")]
    connectors = "connectors.md",
    operating = "operating.md",
    testing = "testing.md",
    guarantees = "guarantees.md",
    performance = "performance.md",
    internals = "internals.md",
    flink = "flink.md",
    development = "development.md",
}

/// The READMEs of the published crates, as crates.io shows them.
pub mod crate_readmes {
    #[doc = include_str!("../stream-runtime/README.md")]
    pub mod stream_runtime {}
    #[doc = include_str!("../stream-macros/README.md")]
    pub mod stream_macros {}
    #[doc = include_str!("../stream-runtime/runner/README.md")]
    pub mod stream_runner {}
}

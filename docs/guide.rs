//! The README and the guide's chapters (`docs/src/`), as documentation of
//! this crate, so that `cargo test --workspace` compiles and runs every Rust
//! block in them. A block that is only an excerpt is marked `ignore` and
//! says which file compiles it in full.
#![doc = include_str!("../README.md")]

macro_rules! chapters {
    ($($module:ident = $file:literal),* $(,)?) => {
        $(
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
    graphs = "graphs.md",
    connectors = "connectors.md",
    operating = "operating.md",
    guarantees = "guarantees.md",
    performance = "performance.md",
    internals = "internals.md",
    flink = "flink.md",
    development = "development.md",
}

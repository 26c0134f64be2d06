//! Every stage the DSL knows, in one table that the checks (`valid.rs`)
//! and the expansion (`expand.rs`) both read: its name (which is also the
//! typed API's method), its arguments and options, and what may stand
//! directly before it. A new operator is one row here, its runtime file,
//! and a rewrite in `expand.rs` only if its arguments need one.

/// The kinds of stage the DSL knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Source,
    Union,
    Connect,
    Join,
    Map,
    Filter,
    FlatMap,
    EventTime,
    KeyBy,
    Window,
    Aggregate,
    Reduce,
    Process,
    IntervalJoin,
    Enrich,
    Sink,
}

/// One row of the table.
pub struct Spec {
    pub kind: Kind,
    /// The DSL's name of the stage, and the typed API's method.
    pub name: &'static str,
    /// How many positional arguments it takes.
    pub arity: usize,
    /// The named options it takes (`max_delay = 5s`).
    pub options: &'static [&'static str],
    /// The stages that may stand directly before it; empty for any.
    pub after: &'static [Kind],
    /// What its arguments are, for error messages.
    pub argument: &'static str,
}

const ANY: &[Kind] = &[];
const READS: &[Kind] = &[Kind::Source, Kind::Union, Kind::Connect];

/// The stages, in the order error messages list them.
pub const STAGES: [Spec; 16] = [
    Spec {
        kind: Kind::Source,
        name: "source",
        arity: 1,
        options: &[],
        after: ANY,
        argument: "the source, such as `source(RandomWords::new())`",
    },
    Spec {
        kind: Kind::Union,
        name: "union",
        arity: 1,
        options: &[],
        after: READS,
        argument: "another source of the same records, such as `union(KafkaSource::connect(..))`",
    },
    Spec {
        kind: Kind::Connect,
        name: "connect",
        arity: 1,
        options: &[],
        after: READS,
        argument: "a second input, another source, such as `connect(KafkaSource::connect(..))`",
    },
    Spec {
        kind: Kind::Join,
        name: "join",
        arity: 2,
        options: &[],
        after: ANY,
        argument: "two named streams, such as `join(counts, profiles)`, at the start of a chain",
    },
    Spec {
        kind: Kind::Map,
        name: "map",
        arity: 1,
        options: &[],
        after: ANY,
        argument: "a closure, such as `map(|x| ...)`",
    },
    Spec {
        kind: Kind::Filter,
        name: "filter",
        arity: 1,
        options: &[],
        after: ANY,
        argument: "a closure, such as `filter(|x| ...)`",
    },
    Spec {
        kind: Kind::FlatMap,
        name: "flat_map",
        arity: 1,
        options: &[],
        after: ANY,
        argument: "a closure, such as `flat_map(|x| ...)`",
    },
    Spec {
        kind: Kind::EventTime,
        name: "event_time",
        arity: 1,
        options: &["max_delay", "idle"],
        after: ANY,
        argument: "a closure giving the record's time in milliseconds, such as `event_time(|r| r.ts_millis, max_delay = 5s)`",
    },
    Spec {
        kind: Kind::KeyBy,
        name: "key_by",
        arity: 1,
        options: &[],
        after: ANY,
        argument: "a closure, such as `key_by(|x| x.id.clone())`",
    },
    Spec {
        kind: Kind::Window,
        name: "window",
        arity: 1,
        options: &["lateness", "time", "late"],
        after: &[Kind::KeyBy],
        argument: "a window, such as `window(tumbling(10s))`, `window(sliding(60s, 10s))` or `window(session(30s), lateness = 5s, late = side)`",
    },
    Spec {
        kind: Kind::Aggregate,
        name: "aggregate",
        arity: 2,
        options: &[],
        after: &[Kind::Window],
        argument: "a starting accumulator and a closure, such as `aggregate(0, |count, _r| *count += 1)`",
    },
    Spec {
        kind: Kind::Reduce,
        name: "reduce",
        arity: 1,
        options: &["emit"],
        after: &[Kind::KeyBy, Kind::Window],
        argument: "a closure, such as `reduce(|a, b| ...)` (and `emit = latest` for one value per key per batch)",
    },
    Spec {
        kind: Kind::Process,
        name: "process",
        arity: 1,
        options: &["on_timer"],
        after: &[Kind::KeyBy],
        argument: "a closure, such as `process(|record, ctx| ...)` (and `on_timer = |timer, ctx| ...` for timers)",
    },
    Spec {
        kind: Kind::IntervalJoin,
        name: "interval_join",
        arity: 2,
        options: &[],
        after: &[Kind::KeyBy],
        argument: "the bounds and a closure, such as `interval_join(between(-5s, 5s), |left, right| ...)`",
    },
    Spec {
        kind: Kind::Enrich,
        name: "enrich",
        arity: 1,
        options: &["in_flight", "order", "timeout", "attempts", "cache"],
        after: &[Kind::KeyBy],
        argument: "a closure giving the record's lookup, such as `enrich(|r| Lookup::service(\"Profiles\", \"get\", &r.user), in_flight = 32, cache = 60s)`",
    },
    Spec {
        kind: Kind::Sink,
        name: "sink",
        arity: 1,
        options: &[],
        after: ANY,
        argument: "the sink, such as `sink(FileSink::new(\"out.txt\"))`",
    },
];

impl Kind {
    /// This kind's row.
    pub fn spec(self) -> &'static Spec {
        match STAGES.iter().find(|spec| spec.kind == self) {
            Some(spec) => spec,
            // Every kind has a row: `every_kind_has_one_row` checks it.
            None => &STAGES[0],
        }
    }

    /// The kind the DSL calls `name`.
    pub fn named(name: &str) -> Option<Kind> {
        STAGES.iter().find(|s| s.name == name).map(|s| s.kind)
    }

    /// Whether it may directly follow `before`.
    pub fn may_follow(self, before: Kind) -> bool {
        self.spec().after.contains(&before)
    }

    /// The stages that may directly follow this one and no other, in the
    /// table's order, for messages: "`window`, `reduce` or `process`".
    pub fn followers(self) -> String {
        let names: Vec<String> = (STAGES.iter())
            .filter(|spec| spec.after.contains(&self))
            .map(|spec| format!("`{}`", spec.name))
            .collect();
        match names.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `pipeline!` docs and the guide's DSL table, which must name
    /// every stage of the table.
    fn documents() -> Vec<(&'static str, String)> {
        let guide = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/src/dsl.md");
        let guide = std::fs::read_to_string(guide).unwrap_or_else(|e| panic!("{guide}: {e}"));
        vec![
            (
                "the pipeline! docs (lib.rs)",
                include_str!("lib.rs").to_owned(),
            ),
            ("the guide's DSL table (docs/src/dsl.md)", guide),
        ]
    }

    #[test]
    fn every_stage_is_documented_in_the_macro_docs_and_the_guide_table() {
        for (document, text) in documents() {
            for spec in &STAGES {
                let (written, row) = (format!("{}(", spec.name), format!("| `{}(", spec.name));
                let found = match document.starts_with("the guide") {
                    true => text.contains(&row),
                    false => text.contains(&written),
                };
                assert!(found, "{document} does not name the stage `{}`", spec.name);
            }
        }
    }

    #[test]
    fn the_stages_after_key_by_are_the_tables() {
        let followers = Kind::KeyBy.followers();
        assert_eq!(
            followers,
            "`window`, `reduce`, `process`, `interval_join` or `enrich`"
        );
        assert_eq!(Kind::Window.followers(), "`aggregate` or `reduce`");
    }

    #[test]
    fn every_kind_has_one_row_and_every_name_one_kind() {
        for spec in &STAGES {
            assert_eq!(spec.kind.spec().name, spec.name);
            assert_eq!(Kind::named(spec.name), Some(spec.kind));
        }
        let mut names: Vec<_> = STAGES.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), STAGES.len());
    }
}

//! A pipeline's graph as it was written: its vertices (the source with the
//! stateless stages fused into it, each keyed stage with the stateless
//! stages after it, each sink) and the edges between them. What the
//! runner's page draws.
//!
//! Like Flink's web UI, stateless stages are not vertices of their own:
//! they run in the vertex before them (Flink chains them into one task),
//! and a vertex lists them by name.

use serde::{Deserialize, Serialize};

/// A pipeline's graph: its vertices in order, and the edges between them.
///
/// ```
/// use stream_runtime::{CollectSink, Pipeline, Sequence};
///
/// let pipeline = Pipeline::named("Evens")
///     .key_groups(4)
///     .source(Sequence::new().take(10))
///     .filter(|n| n % 2 == 0)
///     .key_by(|n| n % 3)
///     .reduce(|a, b| a + b)
///     .sink(CollectSink::new());
/// let graph = pipeline.graph();
/// let names: Vec<&str> = graph.vertices.iter().map(|v| v.name.as_str()).collect();
/// assert_eq!(names, ["Sequence → filter", "key_by → reduce", "CollectSink"]);
/// assert_eq!(graph.vertices[1].parallelism, 4);
/// assert_eq!(graph.edges, [(0, 1), (1, 2)]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Graph {
    /// The vertices: the source first, a branch's sink if there is one,
    /// each keyed stage, and the sink last.
    pub vertices: Vec<Vertex>,
    /// Which vertex feeds which, by index.
    pub edges: Vec<(usize, usize)>,
}

/// One vertex of a [`Graph`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vertex {
    /// Its index in [`Graph::vertices`].
    pub id: usize,
    /// What it is.
    pub kind: VertexKind,
    /// Its stages, as written, joined by ` → `.
    pub name: String,
    /// How many splits, key groups or sink partitions it has.
    pub parallelism: u32,
}

/// What a [`Vertex`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VertexKind {
    /// The source and the stateless stages before `key_by`; parallel over
    /// its splits.
    Source,
    /// A keyed stage and the stateless stages after it; parallel over its
    /// key groups.
    Keyed,
    /// A sink; parallel over its partitions.
    Sink,
}

impl Graph {
    /// An empty graph, to push vertices onto.
    pub(crate) fn new() -> Self {
        Self {
            vertices: Vec::new(),
            edges: Vec::new(),
        }
    }

    /// Adds a vertex fed by `from`, and answers its index.
    pub(crate) fn push(
        &mut self,
        from: Option<usize>,
        kind: VertexKind,
        name: String,
        parallelism: u32,
    ) -> usize {
        let id = self.vertices.len();
        self.vertices.push(Vertex {
            id,
            kind,
            name,
            parallelism,
        });
        if let Some(from) = from {
            self.edges.push((from, id));
        }
        id
    }

    /// The index of the first keyed vertex, if there is one.
    pub fn first_keyed(&self) -> Option<usize> {
        (self.vertices.iter()).position(|v| v.kind == VertexKind::Keyed)
    }

    /// The index of the (main) sink's vertex: the last one. A branch's
    /// sink comes right after the source.
    pub fn sink(&self) -> Option<usize> {
        (self.vertices.last())
            .filter(|v| v.kind == VertexKind::Sink)
            .map(|v| v.id)
    }
}

/// The stages a type stands for, by its name: `Then<A, B>` is A's then
/// B's, `Identity` and `Unkeyed` are none, and any other is its type's
/// name without path or parameters, in snake case for an operator
/// (`FlatMap` → `flat_map`), as written for a source or a sink
/// (`snake: false`).
pub(crate) fn stage_names<T: ?Sized>(snake: bool) -> Vec<String> {
    let name = std::any::type_name::<T>();
    let mut out = Vec::new();
    names_of(&parse(name), snake, &mut out);
    out
}

/// A type name as a tree: its path and its parameters.
struct TypeName<'a> {
    path: &'a str,
    args: Vec<TypeName<'a>>,
}

/// Parses `a::B<c::D, E<F>>`. Closures' names (`{{closure}}`), tuples,
/// arrays and function pointers' arguments are kept whole.
fn parse(text: &str) -> TypeName<'_> {
    let (tree, _) = parse_at(text, 0);
    tree
}

fn parse_at(text: &str, from: usize) -> (TypeName<'_>, usize) {
    let bytes = text.as_bytes();
    let mut at = from;
    let mut depth = 0usize;
    while at < bytes.len() {
        match bytes[at] {
            b'{' | b'(' | b'[' => depth += 1,
            b'}' | b')' | b']' => depth = depth.saturating_sub(1),
            // The arrow of `fn(A) -> B`.
            b'>' if at > 0 && bytes[at - 1] == b'-' => {}
            // Angle brackets inside a path, not its parameters:
            // `_::<impl Trait for T>::f`, `<T as Trait>::f`, `f<T>::{{closure}}`.
            b'<' if depth == 0 && in_path(text, from, at) => match matching_angle(bytes, at) {
                Some(close) => at = close,
                None => break,
            },
            b'<' | b'>' | b',' if depth == 0 => break,
            _ => {}
        }
        at += 1;
    }
    let path = text[from..at].trim();
    let mut args = Vec::new();
    if bytes.get(at) == Some(&b'<') {
        at += 1;
        loop {
            let (arg, next) = parse_at(text, at);
            args.push(arg);
            at = next;
            match bytes.get(at) {
                Some(b',') => at += 1,
                Some(b'>') => {
                    at += 1;
                    break;
                }
                _ => break,
            }
        }
    }
    (TypeName { path, args }, at)
}

/// Whether the `<` at `at` is part of the path that starts at `from`: it
/// follows `::` or opens the path, or its `>` is followed by `::`.
fn in_path(text: &str, from: usize, at: usize) -> bool {
    let before = text[from..at].trim();
    if before.is_empty() || before.ends_with("::") {
        return true;
    }
    matching_angle(text.as_bytes(), at).is_some_and(|close| text[close + 1..].starts_with("::"))
}

/// The `>` that closes the `<` at `open` (an arrow's `>` is not one).
fn matching_angle(bytes: &[u8], open: usize) -> Option<usize> {
    let mut angles = 0usize;
    for at in open..bytes.len() {
        match bytes[at] {
            b'<' => angles += 1,
            b'>' if at > 0 && bytes[at - 1] == b'-' => {}
            b'>' => {
                angles = angles.checked_sub(1)?;
                if angles == 0 {
                    return Some(at);
                }
            }
            _ => {}
        }
    }
    None
}

fn names_of(tree: &TypeName<'_>, snake: bool, out: &mut Vec<String>) {
    let last = tree.path.rsplit("::").next().unwrap_or(tree.path);
    match last {
        "Then" => tree.args.iter().for_each(|arg| names_of(arg, snake, out)),
        "Identity" | "Unkeyed" => {}
        // A keyed stage: its key function, then its operator.
        "Keyed" => (tree.args.get(1))
            .into_iter()
            .for_each(|op| names_of(op, snake, out)),
        "Windowing" => out.push("window".to_owned()),
        // Two inputs read as one: each source's name.
        "Union" => {
            let names: Vec<String> = (tree.args.iter())
                .map(|arg| {
                    let mut one = Vec::new();
                    names_of(arg, snake, &mut one);
                    one.join(" → ")
                })
                .collect();
            out.push(names.join(" + "));
        }
        "Lefts" | "Rights" => (tree.args.first())
            .into_iter()
            .for_each(|s| names_of(s, snake, out)),
        // Each input's own stages, then the join: `(a | b)`.
        "EachSide" | "Paired" => {
            let sides: Vec<String> = (tree.args.iter().take(2))
                .map(|arg| {
                    let mut one = Vec::new();
                    names_of(arg, snake, &mut one);
                    match one.is_empty() {
                        true => "–".to_owned(),
                        false => one.join(" → "),
                    }
                })
                .collect();
            let joined = format!("({})", sides.join(" | "));
            match last {
                "Paired" => out.push(format!("join{joined}")),
                _ => out.push(joined),
            }
        }
        "Enriching" => out.push("enrich".to_owned()),
        "IntervalJoin" => out.push("interval_join".to_owned()),
        name if snake => out.push(snake_case(name)),
        name => out.push(name.to_owned()),
    }
}

fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    struct FlatMap<A>(A);
    struct Then<A, B>(A, B);
    struct Identity;

    #[test]
    fn a_chain_names_its_operators_in_order() {
        let names = stage_names::<Then<Then<Identity, FlatMap<fn(u8) -> u8>>, FlatMap<u8>>>(true);
        assert_eq!(names, ["flat_map", "flat_map"]);
    }

    #[test]
    fn closures_of_generic_functions_and_trait_impls_keep_the_stages_after_them() {
        let text = "t::Then<t::Then<a::Map<c::build<u8>::{{closure}}, u8>, \\
                    f::Filter<<c::Foo as c::Tr>::m::{{closure}}>>, f::FlatMap<u8>>";
        let mut names = Vec::new();
        names_of(&parse(text), true, &mut names);
        assert_eq!(names, ["map", "filter", "flat_map"]);
    }

    #[test]
    fn closures_and_nested_parameters_parse_whole() {
        let text = "t::Then<a::Map<x::_::<impl p::I for x::P>::f::{{closure}}, \
                    alloc::vec::Vec<(u8, b::C<d>)>>, f::Filter<fn(&u8) -> bool>>";
        let tree = parse(text);
        assert_eq!(tree.path, "t::Then");
        let [map, filter] = &tree.args[..] else {
            panic!("two arguments, not {}", tree.args.len());
        };
        assert_eq!(map.path, "a::Map");
        assert_eq!(
            map.args[0].path,
            "x::_::<impl p::I for x::P>::f::{{closure}}"
        );
        assert_eq!(map.args[1].path, "alloc::vec::Vec");
        assert_eq!(filter.path, "f::Filter");
        assert_eq!(filter.args[0].path, "fn(&u8) -> bool");
    }
}

#[cfg(test)]
mod pipeline_tests {
    use std::time::Duration;

    use crate::builder::Pipeline;
    use crate::sink::CollectSink;
    use crate::source::Sequence;
    use crate::time::Watermarks;

    #[test]
    fn a_pipeline_names_every_stage_as_written() {
        let pipeline = Pipeline::named("Sums")
            .source(Sequence::new())
            .event_time(|n| *n as i64, Watermarks::max_delay(Duration::from_secs(1)))
            .map(|n| (n.value % 5, n.value))
            .filter(|(_, n)| n % 7 != 0)
            .key_by(|(key, _)| *key)
            .reduce(|a, b| (a.0, a.1 + b.1))
            .map(|(_, sum)| sum)
            .sink(CollectSink::<u64>::new());
        let names: Vec<&str> = (pipeline.graph().vertices.iter())
            .map(|v| v.name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "Sequence → event_time → map → filter",
                "key_by → reduce → map",
                "CollectSink"
            ]
        );
    }
}

//! The checked pipeline: every rule of the DSL, every error collected.

use syn::{Attribute, Expr, Ident, Visibility};

use crate::ast::{OptionInput, PipelineInput, StageInput};

/// The kinds of stage the DSL knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Source,
    Map,
    Filter,
    FlatMap,
    KeyBy,
    Reduce,
    Process,
    Sink,
}

impl Kind {
    const ALL: [(&'static str, Kind); 8] = [
        ("source", Kind::Source),
        ("map", Kind::Map),
        ("filter", Kind::Filter),
        ("flat_map", Kind::FlatMap),
        ("key_by", Kind::KeyBy),
        ("reduce", Kind::Reduce),
        ("process", Kind::Process),
        ("sink", Kind::Sink),
    ];

    fn from_ident(ident: &Ident) -> Option<Kind> {
        let name = ident.to_string();
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
    }

    fn is_stateful(self) -> bool {
        matches!(self, Kind::Reduce | Kind::Process)
    }

    /// What the one argument of this stage is, for error messages.
    fn argument(self) -> &'static str {
        match self {
            Kind::Source => "the source, such as `source(RandomWords::new())`",
            Kind::Sink => "the sink, such as `sink(FileSink::new(\"out.txt\"))`",
            Kind::Reduce => "a closure, such as `reduce(|a, b| ...)`",
            Kind::Process => "a closure, such as `process(|record, ctx| ...)`",
            Kind::Map => "a closure, such as `map(|x| ...)`",
            Kind::Filter => "a closure, such as `filter(|x| ...)`",
            Kind::FlatMap => "a closure, such as `flat_map(|x| ...)`",
            Kind::KeyBy => "a closure, such as `key_by(|x| x.id.clone())`",
        }
    }
}

/// One checked stage.
pub struct Stage {
    pub kind: Kind,
    pub name: Ident,
    pub arg: Expr,
}

/// The pipeline's settings.
#[derive(Default)]
pub struct Options {
    pub batch_size: Option<Expr>,
    pub key_groups: Option<Expr>,
    pub max_attempts: Option<Expr>,
}

/// A pipeline that follows every rule of the DSL.
pub struct Pipeline {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    pub options: Options,
    /// Every stage in order: the first is the source, the last the sink.
    pub stages: Vec<Stage>,
}

/// Collects errors so that one compile reports all of them.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    fn at(&mut self, tokens: impl quote::ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    fn finish<T>(self, value: T) -> Result<T, syn::Error> {
        self.0.map_or(Ok(value), Err)
    }
}

impl Pipeline {
    pub fn from_ast(input: PipelineInput) -> Result<Self, syn::Error> {
        let mut errors = Errors::default();
        let options = check_options(input.options, &mut errors);
        let stages = check_stages(input.stages, &mut errors);
        if let Some(stages) = &stages {
            check_order(stages, &mut errors);
        }
        errors.finish(())?;
        Ok(Self {
            attrs: input.attrs,
            vis: input.vis,
            name: input.name,
            options,
            stages: stages.unwrap_or_default(),
        })
    }
}

fn check_options(inputs: Vec<OptionInput>, errors: &mut Errors) -> Options {
    let mut options = Options::default();
    for OptionInput { name, value } in inputs {
        let slot = match name.to_string().as_str() {
            "batch_size" => &mut options.batch_size,
            "key_groups" => &mut options.key_groups,
            "max_attempts" => &mut options.max_attempts,
            other => {
                errors.at(
                    &name,
                    format!(
                        "unknown pipeline option `{other}`; the options are `batch_size`, `key_groups` and `max_attempts`"
                    ),
                );
                continue;
            }
        };
        if slot.is_some() {
            errors.at(&name, format!("`{name}` is set twice"));
        }
        *slot = Some(value);
    }
    options
}

/// Resolves each stage's kind and its one argument. The kinds come back
/// even when an argument is wrong, so the order can still be checked;
/// `None` if any stage is unknown.
fn check_stages(inputs: Vec<StageInput>, errors: &mut Errors) -> Option<Vec<Stage>> {
    let mut stages = Vec::with_capacity(inputs.len());
    let mut known = true;
    for StageInput { name, args } in inputs {
        let Some(kind) = Kind::from_ident(&name) else {
            let valid: Vec<String> = Kind::ALL.iter().map(|(n, _)| format!("`{n}`")).collect();
            let hint = closest(&name.to_string())
                .map(|n| format!("did you mean `{n}`? "))
                .unwrap_or_default();
            errors.at(
                &name,
                format!(
                    "unknown stage `{name}`; {hint}the stages are {}",
                    valid.join(", ")
                ),
            );
            known = false;
            continue;
        };
        let count = args.len();
        let mut args = args.into_iter();
        let arg = match (args.next(), count) {
            (Some(arg), 1) => arg,
            _ => {
                errors.at(
                    &name,
                    format!(
                        "`{name}` takes exactly one argument, {} (found {count})",
                        kind.argument()
                    ),
                );
                // A placeholder: with an error recorded, nothing is expanded.
                syn::parse_quote!(())
            }
        };
        stages.push(Stage { kind, name, arg });
    }
    known.then_some(stages)
}

/// source first, sink last, and `key_by` directly before its one stateful stage.
fn check_order(stages: &[Stage], errors: &mut Errors) {
    let mut key_by: Option<&Ident> = None; // the first `key_by`
    let mut sink: Option<&Ident> = None;
    let mut reported_after_sink = false;
    for (index, stage) in stages.iter().enumerate() {
        let name = &stage.name;
        if let Some(sink) = sink {
            if !reported_after_sink {
                errors.at(
                    name,
                    format!("nothing can follow `{sink}`: it ends the pipeline"),
                );
                reported_after_sink = true;
            }
            continue;
        }
        let previous = index.checked_sub(1).map(|i| stages[i].kind);
        match stage.kind {
            Kind::Source if index > 0 => {
                errors.at(name, "`source` can only be the first stage");
            }
            _ if index == 0 && stage.kind != Kind::Source => {
                errors.at(
                    name,
                    format!("a pipeline starts with `source(...)`, not `{name}`"),
                );
            }
            Kind::KeyBy => {
                if key_by.is_some() {
                    errors.at(
                        name,
                        "a pipeline can have only one `key_by`; to key by several fields, return a tuple from one `key_by`",
                    );
                }
                key_by = Some(name);
                let next = stages.get(index + 1).map(|s| s.kind);
                if !next.is_some_and(Kind::is_stateful) {
                    errors.at(
                        name,
                        "`key_by` must be followed by `reduce` or `process`, as a Flink KeyedStream is",
                    );
                }
            }
            kind if kind.is_stateful() && previous != Some(Kind::KeyBy) => {
                if key_by.is_none() {
                    errors.at(
                        name,
                        format!("`{name}` needs a `key_by` before it: keyed state is kept per key"),
                    );
                } else {
                    errors.at(name, format!("`{name}` must directly follow `key_by`"));
                }
            }
            Kind::Sink => sink = Some(name),
            _ => {}
        }
    }
    if sink.is_none() {
        if let Some(last) = stages.last() {
            errors.at(
                &last.name,
                format!(
                    "a pipeline ends with `sink(...)`: add `|> sink(...)` after `{}`",
                    last.name
                ),
            );
        }
    }
}

/// The known stage closest to a misspelt one, if any is close.
fn closest(name: &str) -> Option<&'static str> {
    Kind::ALL
        .iter()
        .map(|(known, _)| (edit_distance(name, known), *known))
        .filter(|(distance, _)| *distance <= 2)
        .min()
        .map(|(_, known)| known)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

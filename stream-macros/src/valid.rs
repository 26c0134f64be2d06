//! The checked pipeline: one function per rule of the DSL, every error
//! collected so that one compile reports all of them.

use syn::{Expr, Ident};

use crate::ast::{Header, OptionInput, ParamInput, PipelineInput, StageInput};
use crate::duration::duration_literal;

pub use crate::stages::Kind;
use crate::stages::STAGES;

/// One checked stage.
pub struct Stage {
    pub kind: Kind,
    pub name: Ident,
    /// The positional arguments, as many as the kind takes.
    pub args: Vec<Expr>,
    /// The named options, such as `max_delay = 5s`, each known to the kind.
    pub options: Vec<(Ident, Expr)>,
}

impl Stage {
    /// The named option `name`, if given.
    pub fn option(&self, name: &str) -> Option<&Expr> {
        self.options
            .iter()
            .find(|(ident, _)| ident == name)
            .map(|(_, value)| value)
    }
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
    /// Name, visibility, attributes and parameters, as written.
    pub header: Header,
    pub options: Options,
    /// Every stage of the main line in order: the first is the source, the
    /// last the sink.
    pub stages: Vec<Stage>,
    /// A branch that leaves the main line before `key_by`.
    pub branch: Option<Branch>,
    /// The inputs of the `join(a, b)` the main line starts with.
    pub join: Option<Join>,
}

/// A join's two inputs, each from its `source` (see `joined.rs`).
pub struct Join {
    pub left: Vec<Stage>,
    pub right: Vec<Stage>,
}

/// A branch's stateless stages and sink, leaving the main line after its
/// stage `at - 1` (see `named.rs`).
pub struct Branch {
    pub at: usize,
    /// The named stream the branch reads, as written (for spans).
    pub head: Ident,
    pub stages: Vec<Stage>,
}

impl crate::lines::Report for Errors {
    fn at(&mut self, tokens: &dyn quote::ToTokens, message: String) {
        self.push(syn::Error::new_spanned(tokens, message));
    }
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
}

impl Pipeline {
    /// Checks every rule. On failure the error comes with the header, so
    /// that the struct can still be declared (see `fallback`).
    pub fn from_ast(input: PipelineInput) -> Result<Self, Box<(syn::Error, Header)>> {
        let PipelineInput { header, chains } = input;
        let mut errors = Errors::default();
        if let Err(error) = &chains {
            errors.push(error.clone());
        }
        check_name(&header.name, &mut errors);
        check_params_unique(&header.params, &mut errors);
        let options = check_options(&header.options, &mut errors);
        let lines = chains
            .ok()
            .and_then(|chains| crate::named::lines(chains, &mut errors));
        let (stages, branch, join) = match lines {
            Some(lines) => (Some(lines.main), lines.branch, lines.join),
            None => (None, None, None),
        };
        let join = join.and_then(|j| {
            let left = check_stages(j.left, &mut errors);
            let right = check_stages(j.right, &mut errors);
            for input in [&left, &right].into_iter().flatten() {
                check_join_input(input, &mut errors);
            }
            Some(Join {
                left: left?,
                right: right?,
            })
        });
        let stages = stages.and_then(|s| check_stages(s, &mut errors));
        let branch = branch.and_then(|b| {
            let stages = check_stages(b.stages, &mut errors)?;
            check_sink_last(&stages, &mut errors);
            check_nothing_after_sink(&stages, &mut errors);
            Some(Branch {
                at: b.at,
                head: b.head,
                stages,
            })
        });
        if let Some(stages) = &stages {
            check_nothing_after_sink(stages, &mut errors);
            check_sink_last(stages, &mut errors);
            // What follows a sink is reported once, above, and not checked.
            let stages = through_sink(stages);
            check_source_first(stages, &mut errors);
            check_union_after_source(stages, &mut errors);
            check_key_by_followed_by_state(stages, &mut errors);
            check_window_folded(stages, &mut errors);
            check_state_follows_key_by(stages, &mut errors);
            check_emit_on_running_reduce(stages, &mut errors);
            check_event_time_before_key_by(stages, &mut errors);
            check_enrich_gives_lookup(stages, &mut errors);
        }
        match (errors.0, stages) {
            (None, Some(stages)) => Ok(Self {
                header,
                options,
                stages,
                branch,
                join,
            }),
            (Some(error), _) => Err(Box::new((error, header))),
            (None, None) => {
                let error = syn::Error::new(header.name.span(), "the pipeline has no stages");
                Err(Box::new((error, header)))
            }
        }
    }
}

/// A join's input follows the rules of a line's stages before its sink.
fn check_join_input(stages: &[Stage], errors: &mut Errors) {
    check_source_first(stages, errors);
    check_union_after_source(stages, errors);
    check_key_by_followed_by_state(stages, errors);
    check_window_folded(stages, errors);
    check_state_follows_key_by(stages, errors);
    check_emit_on_running_reduce(stages, errors);
    check_event_time_before_key_by(stages, errors);
}

/// The stages up to and including the first `sink`.
fn through_sink(stages: &[Stage]) -> &[Stage] {
    match stages.iter().position(|s| s.kind == Kind::Sink) {
        Some(sink) => &stages[..=sink],
        None => stages,
    }
}

/// The name must be able to name Restate services (`{Name}Source`, ...),
/// which are durable: an ASCII letter, then ASCII letters, digits or `_`.
fn check_name(name: &Ident, errors: &mut Errors) {
    let text = name.to_string();
    let text = text.strip_prefix("r#").unwrap_or(&text);
    let mut chars = text.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        errors.at(
            name,
            format!(
                "`{text}` cannot name a pipeline: its Restate services are named after it, so it must \
                 start with an ASCII letter and continue with ASCII letters, digits or `_`"
            ),
        );
    }
}

/// Each parameter is a field of the struct, so each name can appear once.
fn check_params_unique(params: &[ParamInput], errors: &mut Errors) {
    for (index, param) in params.iter().enumerate() {
        if params[..index].iter().any(|p| p.name == param.name) {
            errors.at(
                &param.name,
                format!("the parameter `{}` is declared twice", param.name),
            );
        }
    }
}

/// Options are `batch_size`, `key_groups` and `max_attempts`, each set at
/// most once.
fn check_options(inputs: &[OptionInput], errors: &mut Errors) -> Options {
    let mut options = Options::default();
    for OptionInput { name, value } in inputs {
        let slot = match name.to_string().as_str() {
            "batch_size" => &mut options.batch_size,
            "key_groups" => &mut options.key_groups,
            "max_attempts" => &mut options.max_attempts,
            other => {
                errors.at(
                    name,
                    format!(
                        "unknown pipeline option `{other}`; the options are `batch_size`, `key_groups` \
                         and `max_attempts` (a parameter is written `{other}: Type`)"
                    ),
                );
                continue;
            }
        };
        if slot.is_some() {
            errors.at(name, format!("`{name}` is set twice"));
        }
        *slot = Some(value.clone());
    }
    options
}

/// Every stage is one the DSL knows, with exactly one argument. The kinds
/// come back even when an argument is wrong, so the order can still be
/// checked; `None` if any stage is unknown.
fn check_stages(inputs: Vec<StageInput>, errors: &mut Errors) -> Option<Vec<Stage>> {
    let mut stages = Vec::with_capacity(inputs.len());
    let mut known = true;
    for StageInput { name, args } in inputs {
        let Some(kind) = Kind::named(&name.to_string()) else {
            let valid: Vec<String> = STAGES.iter().map(|s| format!("`{}`", s.name)).collect();
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
        let (positional, named) = split_options(args);
        let count = positional.len();
        let args = if count == kind.spec().arity {
            positional
        } else {
            let wanted = match kind.spec().arity {
                1 => "exactly one argument".to_owned(),
                n => format!("{n} arguments"),
            };
            errors.at(
                &name,
                format!(
                    "`{name}` takes {wanted}, {} (found {count})",
                    kind.spec().argument
                ),
            );
            // Placeholders: with an error recorded, nothing is expanded.
            vec![syn::parse_quote!(()); kind.spec().arity]
        };
        let options = check_stage_options(kind, &name, named, errors);
        stages.push(Stage {
            kind,
            name,
            args,
            options,
        });
    }
    known.then_some(stages)
}

/// Splits a stage's arguments into positional ones and `name = value`
/// options (which parse as assignments).
fn split_options(args: impl IntoIterator<Item = Expr>) -> (Vec<Expr>, Vec<(Expr, Expr)>) {
    let mut positional = Vec::new();
    let mut named = Vec::new();
    for arg in args {
        match arg {
            Expr::Assign(assign) => named.push((*assign.left, *assign.right)),
            other => positional.push(other),
        }
    }
    (positional, named)
}

/// A stage's named options are the ones it knows, each given once, and
/// each duration is a number with a unit (`500ms`, `5s`, `2m`, `1h`) or a
/// `Duration`; `time` is `event` or `processing`.
fn check_stage_options(
    kind: Kind,
    stage: &Ident,
    named: Vec<(Expr, Expr)>,
    errors: &mut Errors,
) -> Vec<(Ident, Expr)> {
    let known = kind.spec().options;
    let mut options: Vec<(Ident, Expr)> = Vec::new();
    for (left, value) in named {
        let ident = match &left {
            Expr::Path(path) => path.path.get_ident().cloned(),
            _ => None,
        };
        let Some(ident) = ident.filter(|i| known.iter().any(|k| i == k)) else {
            let list = if known.is_empty() {
                format!("`{stage}` takes no options")
            } else {
                let names: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
                format!("the options of `{stage}` are {}", names.join(" and "))
            };
            errors.at(&left, format!("unknown option of `{stage}`; {list}"));
            continue;
        };
        if options.iter().any(|(seen, _)| *seen == ident) {
            errors.at(&ident, format!("`{ident}` is set twice"));
            continue;
        }
        if ident == "time" {
            check_time_domain(&value, errors);
        } else if ident == "late" {
            check_late_data(&value, errors);
        } else if ident == "emit" {
            check_emit(&value, errors);
        } else if ident == "on_timer" {
            // A closure, checked by the compiler.
        } else if ident == "order" {
            check_order(&value, errors);
        } else if ident == "in_flight" || ident == "attempts" {
            check_count(&ident, &value, errors);
        } else {
            check_duration(&value, errors);
        }
        options.push((ident, value));
    }
    options
}

/// `time = event` or `time = processing`.
fn check_time_domain(value: &Expr, errors: &mut Errors) {
    let name = match value {
        Expr::Path(path) => path.path.get_ident().map(ToString::to_string),
        _ => None,
    };
    if !matches!(name.as_deref(), Some("event" | "processing")) {
        errors.at(
            value,
            "a window's `time` is `event` (the records' timestamps, the default) or `processing` (the wall clock)",
        );
    }
}

/// `late = side`: the window's late records join its output (Flink's
/// `sideOutputLateData`).
fn check_late_data(value: &Expr, errors: &mut Errors) {
    let side = matches!(value, Expr::Path(path) if path.path.is_ident("side"));
    if !side {
        errors.at(
            value,
            "a window's `late` is `side`: its late records join its output as `To::Side`, \
             beside its results as `To::Main`, for `SideOutput::split(main, side)`",
        );
    }
}

/// `emit = every` (after every record, the default) or `emit = latest`
/// (once per key per batch).
fn check_emit(value: &Expr, errors: &mut Errors) {
    let name = match value {
        Expr::Path(path) => path.path.get_ident().map(ToString::to_string),
        _ => None,
    };
    if !matches!(name.as_deref(), Some("every" | "latest")) {
        errors.at(
            value,
            "`emit` is `every` (the running value after every record, the default) or \
             `latest` (each key's value once per batch)",
        );
    }
}

/// `order = ordered` (the default) or `order = unordered`, as Flink's
/// `orderedWait` and `unorderedWait`.
fn check_order(value: &Expr, errors: &mut Errors) {
    let name = match value {
        Expr::Path(path) => path.path.get_ident().map(ToString::to_string),
        _ => None,
    };
    if !matches!(name.as_deref(), Some("ordered" | "unordered")) {
        errors.at(
            value,
            "`enrich`'s `order` is `ordered` (records in the order they came, the default) or \
             `unordered` (records as their calls answer)",
        );
    }
}

/// `in_flight` and `attempts` are whole numbers of at least 1.
fn check_count(name: &Ident, value: &Expr, errors: &mut Errors) {
    let count = match value {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(int),
            ..
        }) => int.base10_parse::<u64>().ok(),
        _ => None,
    };
    if count.is_none_or(|n| n < 1) {
        errors.at(
            value,
            format!("`{name}` is a whole number of at least 1, such as `{name} = 16`"),
        );
    }
}

/// `emit` is for a running `reduce`: a window's `reduce` emits once per
/// window already.
fn check_emit_on_running_reduce(stages: &[Stage], errors: &mut Errors) {
    for pair in stages.windows(2) {
        let (before, reduce) = (&pair[0], &pair[1]);
        if let Some((name, _)) = (reduce.options.iter()).find(|(name, _)| name == "emit") {
            if before.kind == Kind::Window {
                errors.at(
                    name,
                    "`emit` is for a running `reduce` after `key_by`; a window's `reduce` \
                     emits once per window",
                );
            }
        }
    }
}

fn check_duration(value: &Expr, errors: &mut Errors) {
    if let Some(Err(error)) = duration_literal(value) {
        errors.push(error);
    }
}

/// A pipeline starts with `source(...)`, and only there.
fn check_source_first(stages: &[Stage], errors: &mut Errors) {
    for (index, stage) in stages.iter().enumerate() {
        let name = &stage.name;
        match (index, stage.kind) {
            (0, Kind::Source | Kind::Join) => {}
            (0, _) => errors.at(
                name,
                format!("a pipeline starts with `source(...)`, not `{name}`"),
            ),
            (_, Kind::Source) => errors.at(
                name,
                "`source` can only be the first stage; to read another source too, write \
                 `|> union(other)` right after it",
            ),
            (_, Kind::Join) => errors.at(
                name,
                "`join(a, b)` starts a chain, and reads two named streams",
            ),
            _ => {}
        }
    }
}

/// `union` and `connect` add a source, so they come right after `source`
/// (or another `union` or `connect`): map after them.
fn check_union_after_source(stages: &[Stage], errors: &mut Errors) {
    let reads = |kind| matches!(kind, Kind::Source | Kind::Union | Kind::Connect);
    for pair in stages.windows(2) {
        let (before, added) = (&pair[0], &pair[1]);
        let what = match added.kind {
            Kind::Union => "another source of the same records",
            Kind::Connect => "a second input",
            _ => continue,
        };
        if !reads(before.kind) {
            errors.at(
                &added.name,
                format!(
                    "`{}` reads {what}, so it comes right after `source` (or another `union` \
                     or `connect`), not after `{}`; map after it",
                    added.name, before.name
                ),
            );
        }
    }
}

/// `sink` ends the pipeline: the first stage after it is an error.
fn check_nothing_after_sink(stages: &[Stage], errors: &mut Errors) {
    if let Some(sink) = stages.iter().position(|s| s.kind == Kind::Sink) {
        if let Some(after) = stages.get(sink + 1) {
            errors.at(
                &after.name,
                format!(
                    "nothing can follow `{}`: it ends the pipeline",
                    stages[sink].name
                ),
            );
        }
    }
}

/// A pipeline ends with `sink(...)`.
fn check_sink_last(stages: &[Stage], errors: &mut Errors) {
    if stages.iter().any(|s| s.kind == Kind::Sink) {
        return;
    }
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

/// `key_by` is directly followed by a keyed stage: one whose row in the
/// stage table may follow `key_by`.
fn check_key_by_followed_by_state(stages: &[Stage], errors: &mut Errors) {
    for (index, stage) in stages.iter().enumerate() {
        let next = stages.get(index + 1).map(|s| s.kind);
        if stage.kind == Kind::KeyBy && !next.is_some_and(|next| next.may_follow(Kind::KeyBy)) {
            let followers = Kind::KeyBy.followers();
            let message =
                format!("`key_by` must be followed by {followers}, as a Flink KeyedStream is");
            errors.at(&stage.name, message);
        }
    }
}

/// `window` is directly followed by `aggregate` or `reduce`, which fold it.
fn check_window_folded(stages: &[Stage], errors: &mut Errors) {
    for (index, stage) in stages.iter().enumerate() {
        let next = stages.get(index + 1).map(|s| s.kind);
        if stage.kind == Kind::Window && !next.is_some_and(|next| next.may_follow(Kind::Window)) {
            errors.at(
                &stage.name,
                "`window` must be followed by `aggregate(init, |acc, r| ..)` or `reduce(|a, b| ..)`, which fold each window",
            );
        }
    }
}

/// A keyed stage comes directly after what its row allows: `process`,
/// `window` and `interval_join` after `key_by`; `reduce` after `key_by` or
/// `window`; `aggregate` after `window`.
fn check_state_follows_key_by(stages: &[Stage], errors: &mut Errors) {
    for (index, stage) in stages.iter().enumerate() {
        let previous = index.checked_sub(1).map(|i| stages[i].kind);
        let allowed = stage.kind.spec().after;
        let keyed = allowed
            .iter()
            .any(|k| matches!(k, Kind::KeyBy | Kind::Window));
        if !keyed || previous.is_some_and(|p| allowed.contains(&p)) {
            continue;
        }
        let after: Vec<String> = (allowed.iter())
            .map(|k| format!("`{}`", k.spec().name))
            .collect();
        let after = after.join(" or ");
        let name = &stage.name;
        if stages[..index].iter().any(|s| s.kind == Kind::KeyBy) {
            errors.at(name, format!("`{name}` must directly follow {after}"));
        } else {
            errors.at(
                name,
                format!("`{name}` needs a `key_by` before it: keyed state is kept per key"),
            );
        }
    }
}

/// `enrich`'s closure gives the record's `Lookup`, which the key group
/// calls durably; an `async` closure or block would make the call itself,
/// outside the journal.
fn check_enrich_gives_lookup(stages: &[Stage], errors: &mut Errors) {
    for stage in stages.iter().filter(|s| s.kind == Kind::Enrich) {
        let Some(function) = stage.args.first() else {
            continue;
        };
        let is_async = match function {
            Expr::Async(_) => true,
            Expr::Closure(closure) => {
                closure.asyncness.is_some() || matches!(&*closure.body, Expr::Async(_))
            }
            _ => false,
        };
        if is_async {
            errors.at(
                function,
                "`enrich` takes a closure that gives the record's lookup, such as \
                 `|r| Lookup::service(\"Profiles\", \"get\", &r.user)`, not an async one: \
                 the key group makes the call, journaled, so a replay never calls again",
            );
        }
    }
}

/// `event_time` comes once, before `key_by`: it stamps records before
/// they are keyed, and the watermark follows the source's splits.
fn check_event_time_before_key_by(stages: &[Stage], errors: &mut Errors) {
    let key_by = stages.iter().position(|s| s.kind == Kind::KeyBy);
    for (index, stage) in stages.iter().enumerate() {
        if stage.kind != Kind::EventTime {
            continue;
        }
        if stages[..index].iter().any(|s| s.kind == Kind::EventTime) {
            errors.at(&stage.name, "a pipeline can have only one `event_time`");
        } else if key_by.is_some_and(|k| k < index) {
            errors.at(
                &stage.name,
                "`event_time` must come before `key_by`: it stamps records as they leave the source",
            );
        }
    }
}

/// The known stage closest to a misspelt one, if any is close.
fn closest(name: &str) -> Option<&'static str> {
    STAGES
        .iter()
        .map(|spec| (edit_distance(name, spec.name), spec.name))
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

//! `join(a, b)`: two named streams, each from its own source with stages
//! of its own, read by one chain that starts with `join(a, b)`. What the
//! runtime runs (`Stream::join`) is checked here, one documented rule per
//! function, and the chains are turned into the join's two inputs and
//! the line after it.

use syn::{Expr, Ident};

use crate::ast::ChainInput;
use crate::lines::{first_of, JoinInputs, Lines, Report};
use crate::stages::Kind;

/// Whether a chain starts with `join(..)`.
pub fn starts_with_join(chain: &ChainInput) -> bool {
    chain.from.is_none()
        && (chain.stages.first())
            .is_some_and(|s| Kind::named(&s.name.to_string()) == Some(Kind::Join))
}

/// The line after the join and its inputs, or `None` after an error.
pub fn join_lines(chains: Vec<ChainInput>, errors: &mut dyn Report) -> Option<Lines> {
    if !check_join_not_named(&chains, errors) {
        return None;
    }
    let (named, reads): (Vec<ChainInput>, Vec<ChainInput>) =
        chains.into_iter().partition(|c| c.name.is_some());
    let mut ok = check_one_join_chain(&reads, errors);
    let join = reads.into_iter().find(starts_with_join)?;
    let (a, b) = join_names(&join, errors)?;
    ok &= check_join_reads_named_streams(&[&a, &b], &named, errors);
    for stream in &named {
        ok &= check_input_starts_at_source(stream, errors);
        ok &= check_input_not_sunk(stream, errors);
        ok &= check_input_keys_once(stream, errors);
    }
    ok &= check_join_chain_adds_no_input(&join, errors);
    // A stream not joined is reported only when nothing else is: a
    // misspelt input or a chain that reads it explains it better.
    ok = ok && check_named_streams_joined(&named, &[&a, &b], errors);
    if !ok {
        return None;
    }
    let mut named = named;
    let mut stages_of = |name: &Ident| {
        let at = named.iter().position(|c| c.name.as_ref() == Some(name))?;
        Some(named.swap_remove(at).stages)
    };
    let left = stages_of(&a)?;
    let right = stages_of(&b)?;
    Some(Lines {
        main: join.stages,
        branch: None,
        join: Some(JoinInputs { left, right }),
    })
}

/// The chain that starts with `join(..)` is not named: what it gives goes
/// on in that chain (a stream of the join's output read by two chains is
/// not supported yet).
fn check_join_not_named(chains: &[ChainInput], errors: &mut dyn Report) -> bool {
    let named = chains
        .iter()
        .find(|c| c.name.is_some() && starts_with_join(c));
    let Some(name) = named.and_then(|c| c.name.as_ref()) else {
        return true;
    };
    errors.at(
        name,
        format!("the join's output cannot be named yet: write `join(..) |> ..` on, without `let {name} =`"),
    );
    false
}

/// The two names `join(a, b)` reads, each a plain name.
fn join_names(join: &ChainInput, errors: &mut dyn Report) -> Option<(Ident, Ident)> {
    let stage = join.stages.first()?;
    let names: Vec<Option<Ident>> = stage
        .args
        .iter()
        .map(|arg| match arg {
            Expr::Path(path) => path.path.get_ident().cloned(),
            _ => None,
        })
        .collect();
    match names.as_slice() {
        [Some(a), Some(b)] if a != b => Some((a.clone(), b.clone())),
        [Some(a), Some(_)] => {
            errors.at(
                &stage.args,
                format!("`join` reads two streams, not `{a}` twice"),
            );
            None
        }
        _ => {
            errors.at(
                &stage.name,
                "`join` takes two named streams, such as `join(counts, profiles)`, each named with `let`"
                    .to_owned(),
            );
            None
        }
    }
}

/// One chain reads the join, and it starts with `join(..)`: the two
/// inputs are named streams, and a second chain from a source or from a
/// name is not supported with a join yet.
fn check_one_join_chain(reads: &[ChainInput], errors: &mut dyn Report) -> bool {
    let mut ok = true;
    let mut joins = 0;
    for chain in reads {
        if starts_with_join(chain) {
            joins += 1;
            if joins > 1 {
                errors.at(
                    &chain.stages[0].name,
                    "one `join` per pipeline for now".to_owned(),
                );
                ok = false;
            }
            continue;
        }
        let (tokens, what): (&dyn quote::ToTokens, String) = match (&chain.from, chain.stages.first()) {
            (Some(from), _) => (from, format!("a pipeline with a `join` has no other chain yet: `{from}` can only be read by `join(..)`")),
            (None, Some(first)) => (&first.name, "a pipeline with a `join` is its two named inputs and the chain that starts with `join(..)`".to_owned()),
            (None, None) => continue,
        };
        errors.at(tokens, what);
        ok = false;
    }
    ok
}

/// Each name `join` reads is a stream a `let` names.
fn check_join_reads_named_streams(
    names: &[&Ident],
    named: &[ChainInput],
    errors: &mut dyn Report,
) -> bool {
    let mut ok = true;
    for name in names {
        if !named.iter().any(|c| c.name.as_ref() == Some(*name)) {
            errors.at(
                *name,
                format!("unknown stream `{name}`; name one with `let {name} = source(..) |> ..;`"),
            );
            ok = false;
        }
    }
    ok
}

/// Each named stream is one of the join's inputs: a stream named and not
/// joined is an error on its name.
fn check_named_streams_joined(
    named: &[ChainInput],
    names: &[&Ident],
    errors: &mut dyn Report,
) -> bool {
    let mut ok = true;
    for stream in named {
        let Some(name) = &stream.name else { continue };
        if !names.contains(&name) {
            errors.at(
                name,
                format!("`{name}` is named and never read: join it, or remove it"),
            );
            ok = false;
        }
    }
    ok
}

/// A join's input reads a source of its own.
fn check_input_starts_at_source(stream: &ChainInput, errors: &mut dyn Report) -> bool {
    match (&stream.from, stream.stages.first()) {
        (Some(from), _) => {
            errors.at(
                from,
                "a join's input starts at `source(..)`, not at another named stream".to_owned(),
            );
            false
        }
        (None, Some(first)) if Kind::named(&first.name.to_string()) != Some(Kind::Source) => {
            errors.at(
                &first.name,
                format!(
                    "a join's input starts at `source(..)`, not at `{}`",
                    first.name
                ),
            );
            false
        }
        _ => true,
    }
}

/// A join's input goes on into the join: it has no sink of its own.
fn check_input_not_sunk(stream: &ChainInput, errors: &mut dyn Report) -> bool {
    match first_of(&stream.stages, Kind::Sink) {
        Some(sink) => {
            errors.at(
                &sink.name,
                "a join's input cannot end in `sink`: its records go on into the `join`".to_owned(),
            );
            false
        }
        None => true,
    }
}

/// A join's input has at most one keyed stage (one `key_by`), and no
/// `enrich`: what `Stream::join` takes today.
fn check_input_keys_once(stream: &ChainInput, errors: &mut dyn Report) -> bool {
    let mut ok = true;
    let mut keyed = 0;
    for stage in &stream.stages {
        match Kind::named(&stage.name.to_string()) {
            Some(Kind::KeyBy) => {
                keyed += 1;
                if keyed > 1 {
                    errors.at(
                        &stage.name,
                        "a join's input has one keyed stage for now: key again after the `join`"
                            .to_owned(),
                    );
                    ok = false;
                }
            }
            Some(Kind::Enrich) => {
                errors.at(
                    &stage.name,
                    "`enrich` cannot come before a `join` yet: enrich after it".to_owned(),
                );
                ok = false;
            }
            _ => {}
        }
    }
    ok
}

/// The chain after the join adds no input and stamps no time: `source`,
/// `union`, `connect` and `event_time` belong to the inputs.
fn check_join_chain_adds_no_input(join: &ChainInput, errors: &mut dyn Report) -> bool {
    let mut ok = true;
    for stage in join.stages.iter().skip(1) {
        let kind = Kind::named(&stage.name.to_string());
        if matches!(
            kind,
            Some(Kind::Source | Kind::Union | Kind::Connect | Kind::EventTime | Kind::Join)
        ) {
            errors.at(
                &stage.name,
                format!(
                    "`{}` goes in the join's inputs, before `join(..)`",
                    stage.name
                ),
            );
            ok = false;
        }
    }
    ok
}

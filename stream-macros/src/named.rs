//! Named streams: `let placed = source(..) |> ..;` then chains that read
//! `placed`. What the runtime runs today is one main line and at most one
//! branch before `key_by` (`Stream::branch`), so the chains are checked
//! against that, one documented rule per function, and turned into the
//! main line's stages and the branch's.

use syn::Ident;

use crate::ast::{ChainInput, StageInput};
use crate::joined::{join_lines, starts_with_join};
use crate::lines::{first_of, BranchInput, Lines, Report};
use crate::stages::Kind;

/// The main line and the branch of `chains`, or `None` after an error.
pub fn lines(chains: Vec<ChainInput>, errors: &mut dyn Report) -> Option<Lines> {
    if chains.iter().any(starts_with_join) {
        return join_lines(chains, errors);
    }
    if chains.len() == 1 && chains[0].name.is_none() && chains[0].from.is_none() {
        let main = chains.into_iter().next()?.stages;
        return Some(Lines {
            main,
            branch: None,
            join: None,
        });
    }
    let (named, reads): (Vec<ChainInput>, Vec<ChainInput>) =
        chains.into_iter().partition(|c| c.name.is_some());
    if !check_a_stream_is_named(&named, &reads, errors) {
        return None;
    }
    let mut ok = check_one_named_stream(&named, errors);
    let stream = named.into_iter().next()?;
    let name = stream.name.clone()?;
    ok &= check_named_stream_reads_the_source(&stream, errors);
    // A chain that misspells the name is reported once, as that.
    ok = ok
        && check_chains_read_the_named_stream(&name, &reads, errors)
        && check_named_stream_used(&name, &reads, errors);
    ok = ok && check_named_stream_not_sunk(&stream, errors);
    ok = ok && check_named_before_key_by(&name, &stream, &reads, errors);
    ok = ok && check_one_branch(&reads, errors);
    ok = ok && check_reads_start_no_input(&reads, errors);
    if !ok {
        return None;
    }
    let mut reads = reads.into_iter();
    let first = reads.next()?;
    let Some(second) = reads.next() else {
        // Named and read once: a line.
        let mut main = stream.stages;
        main.extend(first.stages);
        return Some(Lines {
            main,
            branch: None,
            join: None,
        });
    };
    // The branch is the chain with no keyed stage (the first, if both
    // have none); the other goes on as the main line.
    let (branch, main_chain) = match is_stateless(&first.stages) {
        true => (first, second),
        false => (second, first),
    };
    if !check_branch_stateless(&branch, errors) {
        return None;
    }
    let at = stream.stages.len();
    let mut main = stream.stages;
    main.extend(main_chain.stages);
    let head = branch.from?;
    let branch = Some(BranchInput {
        at,
        head,
        stages: branch.stages,
    });
    Some(Lines {
        main,
        branch,
        join: None,
    })
}

/// Whether a chain keys nothing: no `key_by`, hence no keyed stage (an
/// unknown stage, reported later, counts as none).
fn is_stateless(stages: &[StageInput]) -> bool {
    !stages
        .iter()
        .any(|stage| Kind::named(&stage.name.to_string()) == Some(Kind::KeyBy))
}

/// More than one chain needs a named stream to read: a chain that reads
/// a name no `let` gives, or a second chain from a source, is an error.
fn check_a_stream_is_named(
    named: &[ChainInput],
    reads: &[ChainInput],
    errors: &mut dyn Report,
) -> bool {
    if !named.is_empty() {
        return true;
    }
    for chain in reads {
        match (&chain.from, chain.stages.first()) {
            (Some(from), _) => errors.at(
                from,
                format!("unknown stream `{from}`; name one with `let {from} = source(..) |> ..;`"),
            ),
            (None, Some(first)) => errors.at(
                &first.name,
                "a pipeline is one chain, or a named stream (`let placed = source(..) |> ..;`) and the chains that read it"
                    .to_owned(),
            ),
            (None, None) => {}
        }
    }
    false
}

/// One stream is named per pipeline (for now: one branch point).
fn check_one_named_stream(named: &[ChainInput], errors: &mut dyn Report) -> bool {
    for chain in named.iter().skip(1) {
        if let Some(name) = &chain.name {
            errors.at(
                name,
                format!("one stream can be named per pipeline for now (or two, joined with `join(a, b)`): read the first instead of naming `{name}`"),
            );
        }
    }
    named.len() == 1
}

/// The named stream starts at the pipeline's `source`.
fn check_named_stream_reads_the_source(stream: &ChainInput, errors: &mut dyn Report) -> bool {
    match (&stream.from, stream.stages.first()) {
        (Some(from), _) => {
            errors.at(
                from,
                "a named stream starts at `source(..)` for now, not at another named stream"
                    .to_owned(),
            );
            false
        }
        (None, Some(first)) if first.name != "source" => {
            errors.at(
                &first.name,
                format!(
                    "a named stream starts at `source(..)`, not at `{}`",
                    first.name
                ),
            );
            false
        }
        _ => true,
    }
}

/// Every other chain reads the named stream, by its name: one source per
/// pipeline.
fn check_chains_read_the_named_stream(
    name: &Ident,
    reads: &[ChainInput],
    errors: &mut dyn Report,
) -> bool {
    let mut ok = true;
    for chain in reads {
        match (&chain.from, chain.stages.first()) {
            (Some(from), _) if from == name => {}
            (Some(from), _) => {
                errors.at(
                    from,
                    format!("unknown stream `{from}`; the named stream is `{name}`"),
                );
                ok = false;
            }
            (None, Some(first)) => {
                errors.at(
                    &first.name,
                    format!(
                        "a pipeline reads one source: start this chain from the named stream, `{name} |> ..`"
                    ),
                );
                ok = false;
            }
            (None, None) => ok = false,
        }
    }
    ok
}

/// A stream is named to be read: one no chain reads is an error on its
/// name.
fn check_named_stream_used(name: &Ident, reads: &[ChainInput], errors: &mut dyn Report) -> bool {
    if reads.iter().any(|chain| chain.from.as_ref() == Some(name)) {
        return true;
    }
    errors.at(
        name,
        format!("`{name}` is named and never read: continue it with `{name} |> ..`"),
    );
    false
}

/// A stream is named before `key_by`: a branch after a keyed stage is not
/// there yet.
fn check_named_before_key_by(
    name: &Ident,
    stream: &ChainInput,
    reads: &[ChainInput],
    errors: &mut dyn Report,
) -> bool {
    let keyed = stream
        .stages
        .iter()
        .find(|s| Kind::named(&s.name.to_string()) == Some(Kind::KeyBy));
    match keyed {
        Some(key_by) if reads.len() > 1 => {
            errors.at(
                &key_by.name,
                format!(
                    "`{name}` feeds more than one chain, so it must be named before `key_by`: \
                     branches after a keyed stage are not supported yet"
                ),
            );
            false
        }
        _ => true,
    }
}

/// A named stream goes on in the chains that read it: one that ends in a
/// sink has nothing left to branch.
fn check_named_stream_not_sunk(stream: &ChainInput, errors: &mut dyn Report) -> bool {
    match first_of(&stream.stages, Kind::Sink) {
        Some(sink) => {
            errors.at(
                &sink.name,
                "a named stream cannot end in `sink`: name it before, and sink it in a chain that reads it"
                    .to_owned(),
            );
            false
        }
        None => true,
    }
}

/// At most two chains read the named stream: the main line and one
/// branch, for now.
fn check_one_branch(reads: &[ChainInput], errors: &mut dyn Report) -> bool {
    for chain in reads.iter().skip(2) {
        if let Some(from) = &chain.from {
            errors.at(
                from,
                format!(
                    "`{from}` is read by two chains already: one branch per pipeline for now \
                     (a `SideOutput` sink can split a branch's records further)"
                ),
            );
        }
    }
    reads.len() <= 2
}

/// Of two chains that read the named stream, one is stateless stages and
/// a sink (the branch): two chains with keyed stages are not supported
/// yet, and a branch's stages are `map`, `filter` and `flat_map`.
fn check_branch_stateless(branch: &ChainInput, errors: &mut dyn Report) -> bool {
    let other = branch.stages.iter().find(|s| {
        !matches!(
            Kind::named(&s.name.to_string()),
            Some(Kind::Map | Kind::Filter | Kind::FlatMap | Kind::Sink) | None
        )
    });
    let Some(stage) = other else {
        return true;
    };
    let message = match Kind::named(&stage.name.to_string()) {
        Some(Kind::KeyBy) => "two chains with keyed stages from one stream are not supported \
                              yet: one chain may key, the other is `map`, `filter` and \
                              `flat_map` stages and a `sink`"
            .to_owned(),
        _ => format!(
            "a branch is `map`, `filter` and `flat_map` stages and a `sink`; `{}` goes in the \
             named stream, before the chains part",
            stage.name
        ),
    };
    errors.at(&stage.name, message);
    false
}

/// The chains that read the named stream add no input: `source`, `union`
/// and `connect` belong to the named stream, before the chains part.
fn check_reads_start_no_input(reads: &[ChainInput], errors: &mut dyn Report) -> bool {
    let mut ok = true;
    for stage in reads.iter().flat_map(|chain| &chain.stages) {
        let kind = Kind::named(&stage.name.to_string());
        if matches!(kind, Some(Kind::Source | Kind::Union | Kind::Connect)) {
            errors.at(
                &stage.name,
                format!(
                    "`{}` goes in the named stream: the chains that read it share its input",
                    stage.name
                ),
            );
            ok = false;
        }
    }
    ok
}

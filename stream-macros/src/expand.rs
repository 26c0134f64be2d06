//! Code generation: the struct the user declared, and an `IntoPipeline`
//! impl that calls the typed API, each stage's call spanned on the user's
//! own tokens.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, Ident};

use crate::ast::Header;
use crate::duration::duration_literal;
use crate::valid::{Branch, Join, Kind, Pipeline, Stage};

/// The struct and its inherent items. Emitted after an error too (see
/// `fallback`), so that uses of the struct do not add errors of their own.
pub fn declare(header: &Header) -> TokenStream {
    let Header {
        attrs,
        vis,
        name,
        params,
        ..
    } = header;
    let name_str = name.to_string();
    let private = private();
    let doc = format!(
        "The `{name_str}` pipeline. Its Restate services are `{name_str}Source`, `{name_str}Split`, \
         `{name_str}Keyed`, `{name_str}Sink` and `{name_str}Control` (and `{name_str}Clock` with \
         `event_time`)."
    );
    let declaration = if params.is_empty() {
        quote! {
            #[derive(Debug, Clone, Copy, Default)]
            #vis struct #name;
        }
    } else {
        let fields = params.iter().map(|p| {
            let (field, ty) = (&p.name, &p.ty);
            quote!(#vis #field: #ty)
        });
        // `Clone` when every field is: the bounds are higher-ranked so that
        // a field that is not (a connector) is no error until a clone.
        let bounds = params.iter().map(|p| {
            let ty = &p.ty;
            quote!(for<'__p> #ty: ::core::clone::Clone)
        });
        let clones = params.iter().map(|p| {
            let field = &p.name;
            quote!(#field: ::core::clone::Clone::clone(&self.#field))
        });
        quote! {
            #vis struct #name {
                #(#fields,)*
            }

            impl ::core::clone::Clone for #name where #(#bounds),* {
                fn clone(&self) -> Self {
                    Self { #(#clones),* }
                }
            }
        }
    };
    quote! {
        #(#attrs)*
        #[doc = #doc]
        #declaration

        const _: () = {
            impl #name {
                /// The pipeline's name, from which its service names derive.
                pub const NAME: &'static str = #name_str;

                /// The names of the pipeline's Restate services.
                pub fn service_names() -> #private::ServiceNames {
                    #private::ServiceNames::for_pipeline(#name_str)
                }
            }
        };
    }
}

/// The whole expansion of a valid pipeline.
pub fn expand(pipeline: &Pipeline) -> TokenStream {
    let Pipeline {
        header,
        options,
        stages,
        branch,
        join,
    } = pipeline;
    let name = &header.name;
    let name_str = name.to_string();
    let private = private();

    let mut chain = quote!(#private::Pipeline::named(#name_str));
    if let Some(batch_size) = &options.batch_size {
        chain = quote_spanned!(batch_size.span()=> #chain.batch_size(#batch_size));
    }
    if let Some(key_groups) = &options.key_groups {
        chain = quote_spanned!(key_groups.span()=> #chain.key_groups(#key_groups));
    }
    if let Some(max_attempts) = &options.max_attempts {
        chain = quote_spanned!(max_attempts.span()=> #chain.max_attempts(#max_attempts));
    }
    // One binding per stage, spanned on the stage's name, so that an error
    // about a stage's call (a missing bound) points at that stage, not at
    // the whole macro.
    let moving = !header.params.is_empty();
    let args_of = |stages: &[Stage]| -> Vec<Vec<TokenStream>> {
        stages.iter().map(|s| arguments(s, moving)).collect()
    };
    let mut args = args_of(stages);
    if let (Some(_), Some(join_args)) = (join, args.first_mut()) {
        // `join(a, b)` names streams, not parameters: none is used there.
        join_args.clear();
    }
    let branch_args: Vec<Vec<TokenStream>> = branch
        .iter()
        .flat_map(|b| b.stages.iter().map(|s| arguments(s, moving)))
        .collect();
    let (left_args, right_args) = match join {
        Some(join) => (args_of(&join.left), args_of(&join.right)),
        None => (Vec::new(), Vec::new()),
    };
    let every_arg = (args.iter().chain(&branch_args))
        .chain(&left_args)
        .chain(&right_args);
    let mut uses = Uses::count(header, every_arg.flatten());
    let mut calls: Vec<TokenStream> = Vec::new();
    if let Some(join) = join {
        calls.push(join_call(
            &chain,
            join,
            &stages[0],
            [left_args, right_args],
            &mut uses,
        ));
    }
    let skip = usize::from(join.is_some());
    for (index, (stage, args)) in stages.iter().zip(args).enumerate().skip(skip) {
        if let Some(branch) = branch.as_ref().filter(|b| b.at == index) {
            calls.push(branch_call(branch, branch_args.clone(), &mut uses));
        }
        calls.push(stage_call(stages, index, stage, args, &mut uses));
    }

    let fields = header.params.iter().map(|p| &p.name);
    let unpack = (!header.params.is_empty()).then(|| {
        quote! {
            #[allow(unused_variables)]
            let #name { #(#fields),* } = self;
        }
    });
    let declaration = declare(header);
    quote! {
        #declaration

        const _: () = {
            impl #private::IntoPipeline for #name {
                fn into_pipeline(self) -> #private::CompletePipeline {
                    #unpack
                    let __pipeline = #chain;
                    #(#calls)*
                    __pipeline
                }
            }
        };
    }
}

/// `let __pipeline = __pipeline.method(args);` for stage `index` of
/// `stages`, spanned on the stage's name.
fn stage_call(
    stages: &[Stage],
    index: usize,
    stage: &Stage,
    args: Vec<TokenStream>,
    uses: &mut Uses,
) -> TokenStream {
    let method = method(stage);
    let args = args.into_iter().map(|arg| uses.with_params(stage, arg));
    let mut call = quote_spanned!(stage.name.span()=> __pipeline.#method(#(#args),*));
    // `window(.., late = side)`: after the fold that ends the window.
    let window = index.checked_sub(1).map(|before| &stages[before]);
    if let Some(late) = window.and_then(|w| w.option("late")) {
        call = quote_spanned!(late.span()=> #call.side_output_late_data());
    }
    quote_spanned!(stage.name.span()=> let __pipeline = #call;)
}

/// `let __pipeline = {left}.join({right});`: each input built from the
/// pipeline's start, then joined, spanned on `join`.
fn join_call(
    start: &TokenStream,
    join: &Join,
    stage: &Stage,
    [left_args, right_args]: [Vec<Vec<TokenStream>>; 2],
    uses: &mut Uses,
) -> TokenStream {
    // Each input spanned on its name in `join(a, b)`: an input that cannot
    // be joined is an error there.
    let mut input = |stages: &[Stage], args: Vec<Vec<TokenStream>>, at: &Expr| {
        let calls: Vec<TokenStream> = (stages.iter().zip(args).enumerate())
            .map(|(index, (stage, args))| stage_call(stages, index, stage, args, uses))
            .collect();
        let name = quote_spanned!(at.span()=> __input);
        quote_spanned!(at.span()=> {
            let __pipeline = #start;
            #(#calls)*
            let #name = __pipeline;
            #name
        })
    };
    let left = input(&join.left, left_args, &stage.args[0]);
    let right = input(&join.right, right_args, &stage.args[1]);
    let private = private();
    let join = quote_spanned!(stage.name.span()=> #private::join);
    quote_spanned! {stage.name.span()=>
        let __pipeline = #join(#left, #right);
    }
}

/// `.branch(|__branch| __branch.map(..).sink(..))`, spanned on the name
/// the branch reads.
fn branch_call(branch: &Branch, args: Vec<Vec<TokenStream>>, uses: &mut Uses) -> TokenStream {
    let steps = branch.stages.iter().zip(args).map(|(stage, args)| {
        let method = method(stage);
        let args = args.into_iter().map(|arg| uses.with_params(stage, arg));
        quote_spanned!(stage.name.span()=> .#method(#(#args),*))
    });
    let head = &branch.head;
    quote_spanned! {head.span()=>
        let __pipeline = __pipeline.branch(|__branch| __branch #(#steps)*);
    }
}

fn private() -> TokenStream {
    quote!(::stream_runtime::__private)
}

/// The typed API's method for a stage, spanned on the stage's name: the
/// stage's own name, but for `process` with `on_timer`.
fn method(stage: &Stage) -> TokenStream {
    let span = stage.name.span();
    let name = match stage.kind {
        Kind::Process if stage.option("on_timer").is_some() => "process_with_timers",
        Kind::Reduce if stage.option("emit").is_some() => "reduce_emitting",
        Kind::Enrich => "enrich_with",
        kind => kind.spec().name,
    };
    let method = Ident::new(name, span);
    quote!(#method)
}

/// A stage's arguments for the typed API, as emitted but for parameters
/// (see [`Uses`]): its own, then what its options make (`event_time`'s
/// watermarks; a window's lateness and domain; `process`'s timer
/// function). With parameters (`moving`), a closure takes its by `move`.
fn arguments(stage: &Stage, moving: bool) -> Vec<TokenStream> {
    let moved = |expr: &Expr| -> TokenStream {
        let mut expr = expr.clone();
        if let Expr::Closure(closure) = &mut expr {
            if moving && closure.capture.is_none() {
                closure.capture = Some(syn::Token![move](closure.or1_token.span));
            }
        }
        quote!(#expr)
    };
    let mut args: Vec<TokenStream> = stage.args.iter().map(moved).collect();
    if stage.kind == Kind::Window {
        let spec = window_spec(stage, &stage.args[0]);
        args[0] = quote!(#spec);
    }
    if stage.kind == Kind::EventTime {
        args.push(watermarks(stage));
    }
    if stage.kind == Kind::IntervalJoin {
        args[0] = interval_bounds(&stage.args[0]);
    }
    if stage.kind == Kind::Enrich {
        args.insert(0, enrich_options(stage));
    }
    if let Some(on_timer) = stage.option("on_timer") {
        args.push(moved(on_timer));
    }
    if let Some(emit) = stage.option("emit") {
        let private = private();
        let latest = matches!(emit, Expr::Path(p) if p.path.is_ident("latest"));
        args.push(match latest {
            true => quote_spanned!(emit.span()=> #private::Emit::LatestPerBatch),
            false => quote_spanned!(emit.span()=> #private::Emit::EveryUpdate),
        });
    }
    args
}

/// `enrich`'s options as an `Enrich`: each option is its method.
fn enrich_options(stage: &Stage) -> TokenStream {
    let private = private();
    let mut options = quote_spanned!(stage.name.span()=> #private::Enrich::new());
    for (name, value) in &stage.options {
        let set = match name.to_string().as_str() {
            "order" if matches!(value, Expr::Path(p) if p.path.is_ident("unordered")) => {
                quote_spanned!(name.span()=> .unordered())
            }
            "order" => quote!(),
            "timeout" | "cache" => {
                let value = duration(value);
                quote_spanned!(name.span()=> .#name(#value))
            }
            _ => quote_spanned!(name.span()=> .#name(#value)),
        };
        options = quote!(#options #set);
    }
    options
}

/// `event_time`'s options as a `Watermarks` strategy.
fn watermarks(stage: &Stage) -> TokenStream {
    let private = private();
    let delay = stage
        .option("max_delay")
        .map(duration)
        .unwrap_or_else(|| quote!(#private::Duration::ZERO));
    let mut strategy = quote_spanned!(stage.name.span()=> #private::Watermarks::max_delay(#delay));
    if let Some(idle) = stage.option("idle") {
        let idle = duration(idle);
        strategy = quote!(#strategy.idle(#idle));
    }
    strategy
}

/// A window's spec: `tumbling`, `sliding` and `session` calls name the
/// runtime's, their duration literals become `Duration`s, and the options
/// (`time = processing`, `lateness = 5s`) become method calls.
fn window_spec(stage: &Stage, spec: &Expr) -> Expr {
    let mut spec = shapes(spec);
    let processing = stage
        .option("time")
        .is_some_and(|time| matches!(time, Expr::Path(p) if p.path.is_ident("processing")));
    if processing {
        spec = syn::parse_quote_spanned!(stage.name.span()=> (#spec).processing_time());
    }
    if let Some(lateness) = stage.option("lateness") {
        let lateness = duration(lateness);
        spec = syn::parse_quote_spanned!(lateness.span()=> (#spec).allowed_lateness(#lateness));
    }
    spec
}

/// Rewrites the window shapes in a spec expression (see `window_spec`).
fn shapes(expr: &Expr) -> Expr {
    match expr {
        Expr::Call(call) => {
            let mut call = call.clone();
            let shape = match &*call.func {
                Expr::Path(path) => path
                    .path
                    .get_ident()
                    .filter(|i| ["tumbling", "sliding", "session"].iter().any(|s| *i == s))
                    .cloned(),
                _ => None,
            };
            if let Some(shape) = shape {
                call.func =
                    syn::parse_quote_spanned!(shape.span()=> ::stream_runtime::__private::#shape);
                call.args = call
                    .args
                    .iter()
                    .map(|arg| syn::parse2(duration(arg)).unwrap_or_else(|_| arg.clone()))
                    .collect();
            }
            Expr::Call(call)
        }
        Expr::MethodCall(method) => {
            let mut method = method.clone();
            method.receiver = Box::new(shapes(&method.receiver));
            Expr::MethodCall(method)
        }
        Expr::Paren(paren) => shapes(&paren.expr),
        other => other.clone(),
    }
}

/// An interval join's bounds: `between(-5s, 5s)` as the runtime's
/// `between` in signed milliseconds; anything else as written.
fn interval_bounds(expr: &Expr) -> TokenStream {
    let Expr::Call(call) = expr else {
        return quote!(#expr);
    };
    let is_between = matches!(&*call.func, Expr::Path(p) if p.path.is_ident("between"));
    if !is_between {
        return quote!(#expr);
    }
    let private = private();
    let func = &call.func;
    let bounds = call.args.iter().map(|arg| match signed_millis(arg) {
        Some(millis) => quote_spanned!(arg.span()=> #millis),
        None => quote!(#arg),
    });
    quote_spanned!(func.span()=> #private::between(#(#bounds),*))
}

/// A duration literal, or its negation, in signed milliseconds.
fn signed_millis(expr: &Expr) -> Option<i64> {
    match expr {
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr,
            ..
        }) => signed_millis(expr).map(|m| -m),
        expr => match duration_literal(expr)? {
            Ok(millis) => i64::try_from(millis).ok(),
            Err(_) => None,
        },
    }
}

/// A duration: a literal such as `5s` as a `Duration` (checked in `valid`),
/// anything else as written.
fn duration(expr: &Expr) -> TokenStream {
    match duration_literal(expr) {
        Some(Ok(millis)) => {
            let private = private();
            quote_spanned!(expr.span()=> #private::Duration::from_millis(#millis))
        }
        _ => quote!(#expr),
    }
}

/// How many of the arguments still to come name each parameter: the last
/// one takes the parameter itself, each earlier one a copy.
struct Uses {
    left: Vec<(syn::Ident, usize)>,
}

impl Uses {
    fn count<'a>(header: &Header, args: impl Iterator<Item = &'a TokenStream> + Clone) -> Self {
        let left = header
            .params
            .iter()
            .map(|p| {
                (
                    p.name.clone(),
                    args.clone().filter(|a| names(a, &p.name)).count(),
                )
            })
            .collect();
        Self { left }
    }

    /// A stage argument. Each parameter it names is its own: moved into it
    /// when no later argument names it, else a copy (which needs `Clone`,
    /// said on the stage). The user writes `threshold` and the stage keeps
    /// it for as long as it runs.
    fn with_params(&mut self, stage: &Stage, arg: TokenStream) -> TokenStream {
        let mut copies = Vec::new();
        for (param, left) in &mut self.left {
            if *left == 0 || !names(&arg, param) {
                continue;
            }
            *left -= 1;
            if *left > 0 {
                copies.push(quote_spanned! {stage.name.span()=>
                    let #param = ::stream_runtime::__private::copy_for_stage(&#param);
                });
            }
        }
        if copies.is_empty() {
            arg
        } else {
            quote!({ #(#copies)* #arg })
        }
    }
}

/// Whether `tokens` name `ident` as a variable: anywhere but after `.` or
/// `::` (a field or a path's segment), or in a format string (`"{ident}"`).
fn names(tokens: &TokenStream, ident: &syn::Ident) -> bool {
    let trees: Vec<proc_macro2::TokenTree> = tokens.clone().into_iter().collect();
    trees.iter().enumerate().any(|(i, tree)| match tree {
        proc_macro2::TokenTree::Ident(found) => {
            let punct = |back: usize| match i.checked_sub(back).map(|j| &trees[j]) {
                Some(proc_macro2::TokenTree::Punct(p)) => Some(p.as_char()),
                _ => None,
            };
            let after_dot = punct(1) == Some('.');
            let after_path = punct(1) == Some(':') && punct(2) == Some(':');
            found == ident && !after_dot && !after_path
        }
        proc_macro2::TokenTree::Group(g) => names(&g.stream(), ident),
        proc_macro2::TokenTree::Literal(literal) => {
            let text = literal.to_string();
            text.contains(&format!("{{{ident}}}")) || text.contains(&format!("{{{ident}:"))
        }
        _ => false,
    })
}

//! The DSL as written: one `syn::Parse` impl per element.

use proc_macro2::{TokenStream, TokenTree};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{parenthesized, Attribute, Expr, Ident, Token, Type, Visibility};

use crate::stages::Kind;

/// `#[attrs] vis Name (params and options)? : stage |> stage |> ...`, or
/// named streams and the chains that read them:
/// `let name = source(..) |> ..; name |> ..; name |> ..`
pub struct PipelineInput {
    pub header: Header,
    /// The chains, or why they do not parse. The header is kept either way,
    /// so that the struct can still be declared and only the real error shows.
    pub chains: syn::Result<Vec<ChainInput>>,
}

/// One chain of stages: `let placed = source(..) |> map(..)`, or
/// `placed |> key_by(..) |> ..`, or a whole line `source(..) |> .. |> sink(..)`.
pub struct ChainInput {
    /// The name it is given, `placed` in `let placed = ..`.
    pub name: Option<Ident>,
    /// The named stream it reads, `placed` in `placed |> ..`.
    pub from: Option<Ident>,
    /// Its stages.
    pub stages: Vec<StageInput>,
}

/// Everything before the first stage.
pub struct Header {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    pub params: Vec<ParamInput>,
    pub options: Vec<OptionInput>,
}

/// `threshold: f64` in `Name(threshold: f64):`, a field of the struct.
pub struct ParamInput {
    pub name: Ident,
    pub ty: Type,
}

/// `batch_size = 500` in `Name(batch_size = 500):`.
pub struct OptionInput {
    pub name: Ident,
    pub value: Expr,
}

/// `map(|x| ...)`: a stage name and its arguments, checked later.
pub struct StageInput {
    pub name: Ident,
    pub args: Punctuated<Expr, Token![,]>,
}

/// One item between the parentheses after the name.
enum HeaderItem {
    Param(ParamInput),
    Option(OptionInput),
}

impl Parse for PipelineInput {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        let name: Ident = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected the pipeline's name, as in `pipeline! { WordCount: source(...) |> ... }`",
            )
        })?;
        let mut header = Header {
            attrs,
            vis,
            name,
            params: Vec::new(),
            options: Vec::new(),
        };
        let chains = parse_items(input, &mut header).and_then(|()| parse_chains(input, &header));
        if chains.is_err() {
            // The error is reported; the rest is skipped so the header stands.
            input.parse::<TokenStream>()?;
        }
        Ok(Self { header, chains })
    }
}

/// `(threshold: f64, batch_size = 500)`, if present.
fn parse_items(input: ParseStream, header: &mut Header) -> syn::Result<()> {
    if !input.peek(syn::token::Paren) {
        return Ok(());
    }
    let content;
    parenthesized!(content in input);
    for item in content.parse_terminated(HeaderItem::parse, Token![,])? {
        match item {
            HeaderItem::Param(param) => header.params.push(param),
            HeaderItem::Option(option) => header.options.push(option),
        }
    }
    Ok(())
}

/// `: chain; chain; ...`, each chain `(let name =)? (stage | name) |> stage |> ...`.
fn parse_chains(input: ParseStream, header: &Header) -> syn::Result<Vec<ChainInput>> {
    input.parse::<Token![:]>().map_err(|e| {
        syn::Error::new(
            e.span(),
            format!("expected `:` after the pipeline name `{}`", header.name),
        )
    })?;
    let mut chains = vec![parse_chain(input)?];
    while !input.is_empty() {
        input.parse::<Token![;]>()?;
        if input.is_empty() {
            break;
        }
        chains.push(parse_chain(input)?);
    }
    Ok(chains)
}

/// One chain, up to the `;` after it (or the end).
fn parse_chain(input: ParseStream) -> syn::Result<ChainInput> {
    let mut chain = ChainInput {
        name: None,
        from: None,
        stages: Vec::new(),
    };
    if input.peek(Token![let]) {
        input.parse::<Token![let]>()?;
        chain.name = Some(input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected a name for the stream: `let placed = source(..) |> ..`",
            )
        })?);
        input.parse::<Token![=]>()?;
    }
    // A name that reads a named stream; a stage's name without its `(` is
    // left to the stage, which says so.
    let stage_name = input
        .fork()
        .parse::<Ident>()
        .ok()
        .and_then(|i| Kind::named(&i.to_string()));
    if input.peek(Ident) && !input.peek2(syn::token::Paren) && stage_name.is_none() {
        let from: Ident = input.parse()?;
        if chain.name.is_none() && input.peek(Token![=]) {
            return Err(syn::Error::new(
                from.span(),
                format!("name a stream with `let`: `let {from} = source(..) |> ..;`"),
            ));
        }
        chain.from = Some(from);
        parse_arrow(input)?;
    }
    chain.stages.push(input.parse::<StageInput>()?);
    while !input.is_empty() && !input.peek(Token![;]) {
        parse_arrow(input)?;
        chain.stages.push(input.parse()?);
    }
    Ok(chain)
}

/// The `|>` between stages.
fn parse_arrow(input: ParseStream) -> syn::Result<()> {
    if input.peek(Token![|]) && input.peek2(Token![>]) {
        input.parse::<Token![|]>()?;
        input.parse::<Token![>]>()?;
        Ok(())
    } else {
        Err(input.error("expected `|>` between stages"))
    }
}

impl Parse for HeaderItem {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let name: Ident = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected a parameter (`threshold: f64`) or an option (`batch_size = 500`)",
            )
        })?;
        if input.peek(Token![:]) {
            input.parse::<Token![:]>()?;
            let ty: Type = input.parse()?;
            Ok(HeaderItem::Param(ParamInput { name, ty }))
        } else if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            let value: Expr = input.parse()?;
            Ok(HeaderItem::Option(OptionInput { name, value }))
        } else {
            Err(syn::Error::new(
                name.span(),
                format!(
                    "expected `{name}: Type` (a parameter) or `{name} = value` (an option) after `{name}`"
                ),
            ))
        }
    }
}

impl Parse for StageInput {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let name: Ident = input
            .parse()
            .map_err(|e| syn::Error::new(e.span(), "expected a stage, such as `map(|x| ...)`"))?;
        if !input.peek(syn::token::Paren) {
            return Err(syn::Error::new(
                name.span(),
                format!("expected `(` after `{name}`: stages are written as calls, such as `{name}(...)`"),
            ));
        }
        let content;
        parenthesized!(content in input);
        if let Err(error) = spaced_duration(content.fork().parse::<TokenStream>()?) {
            // Consumed, or syn would report the tokens left instead.
            content.parse::<TokenStream>()?;
            return Err(error);
        }
        let args = content.parse_terminated(Expr::parse, Token![,])?;
        Ok(Self { name, args })
    }
}

/// A duration written with a space, `5 s`, which Rust cannot parse: says
/// how durations are written, on those tokens, before syn's own error
/// ("expected `)`") would.
fn spaced_duration(tokens: TokenStream) -> syn::Result<()> {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    for pair in trees.windows(2) {
        if let [TokenTree::Literal(number), TokenTree::Ident(unit)] = pair {
            let is_int = number.to_string().chars().all(|c| c.is_ascii_digit());
            let unit_name = unit.to_string();
            if is_int
                && crate::duration::DURATION_UNITS
                    .iter()
                    .any(|(u, _)| *u == unit_name)
            {
                let written: TokenStream = pair.iter().cloned().collect();
                return Err(syn::Error::new_spanned(
                    written,
                    format!(
                        "write durations with the unit attached: `{number}{unit}` \
                         (the units are `ms`, `s`, `m` and `h`)"
                    ),
                ));
            }
        }
    }
    for tree in trees {
        if let TokenTree::Group(group) = tree {
            spaced_duration(group.stream())?;
        }
    }
    Ok(())
}

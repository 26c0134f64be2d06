//! The DSL as written: one `syn::Parse` impl per element.

use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{parenthesized, Attribute, Expr, Ident, Token, Visibility};

/// `#[attrs] vis Name (options)? : stage |> stage |> ...`
pub struct PipelineInput {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    pub options: Vec<OptionInput>,
    pub stages: Vec<StageInput>,
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
        let mut options = Vec::new();
        if input.peek(syn::token::Paren) {
            let content;
            parenthesized!(content in input);
            let parsed = content.parse_terminated(OptionInput::parse, Token![,])?;
            options.extend(parsed);
        }
        input.parse::<Token![:]>().map_err(|e| {
            syn::Error::new(
                e.span(),
                format!("expected `:` after the pipeline name `{name}`"),
            )
        })?;
        let mut stages = vec![input.parse::<StageInput>()?];
        while !input.is_empty() {
            parse_arrow(input)?;
            stages.push(input.parse()?);
        }
        Ok(Self {
            attrs,
            vis,
            name,
            options,
            stages,
        })
    }
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

impl Parse for OptionInput {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let name: Ident = input.parse()?;
        input.parse::<Token![=]>()?;
        let value: Expr = input.parse()?;
        Ok(Self { name, value })
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
        let args = content.parse_terminated(Expr::parse, Token![,])?;
        Ok(Self { name, args })
    }
}

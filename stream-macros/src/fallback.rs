//! What is emitted after an error: the error, the struct with an
//! `IntoPipeline` impl that is never run, so that the user's uses of the
//! struct compile and only the real error shows (as thiserror's fallback),
//! and a use of each name the stages import, so that their imports are not
//! reported unused on top of the error.

use proc_macro2::{TokenStream, TokenTree};
use quote::quote;

use crate::ast::Header;
use crate::expand::declare;

pub fn expand(header: &Header, error: &syn::Error, input: TokenStream) -> TokenStream {
    let name = &header.name;
    let declaration = declare(header);
    let error = error.to_compile_error();
    let mut imported = Vec::new();
    imported_names(input, &mut imported);
    quote! {
        #error
        #declaration

        const _: () = {
            impl ::stream_runtime::__private::IntoPipeline for #name {
                fn into_pipeline(self) -> ::stream_runtime::__private::CompletePipeline {
                    ::core::unreachable!("the pipeline! above has errors")
                }
            }
            #(
                #[allow(unused_imports)]
                use #imported as _;
            )*
        };
    }
}

/// The names in `tokens` that are items in scope, not locals: the first
/// segment of a path (`FileSink` in `FileSink::new(..)`), and a
/// capitalised name (`WordCount { .. }`, `&Timed<u64>`), which by Rust's
/// naming is a type, a variant or a constant.
fn imported_names(tokens: TokenStream, found: &mut Vec<syn::Ident>) {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    for (i, tree) in trees.iter().enumerate() {
        match tree {
            TokenTree::Group(group) => imported_names(group.stream(), found),
            TokenTree::Ident(ident) => {
                let before = i.checked_sub(1).and_then(|j| trees.get(j));
                let follows_path_or_field = matches!(before, Some(TokenTree::Punct(p)) if p.as_char() == ':' || p.as_char() == '.');
                let path_start = matches!(
                    (trees.get(i + 1), trees.get(i + 2)),
                    (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b))) if a.as_char() == ':' && b.as_char() == ':'
                );
                let name = ident.to_string();
                let capitalised = name.starts_with(|c: char| c.is_ascii_uppercase());
                let keyword = ["self", "Self", "super", "crate"].contains(&name.as_str());
                let ident = ident.clone();
                if (path_start || capitalised)
                    && !follows_path_or_field
                    && !keyword
                    && !found.contains(&ident)
                {
                    found.push(ident);
                }
            }
            _ => {}
        }
    }
}

//! What is emitted after an error: the error, and the struct with an
//! `IntoPipeline` impl that is never run, so that the user's uses of the
//! struct compile and only the real error shows (as thiserror's fallback).

use proc_macro2::TokenStream;
use quote::quote;

use crate::ast::Header;
use crate::expand::declare;

pub fn expand(header: &Header, error: &syn::Error) -> TokenStream {
    let name = &header.name;
    let declaration = declare(header);
    let error = error.to_compile_error();
    quote! {
        #error
        #declaration

        const _: () = {
            impl ::stream_runtime::__private::IntoPipeline for #name {
                fn into_pipeline(self) -> ::stream_runtime::__private::CompletePipeline {
                    ::core::unreachable!("the pipeline! above has errors")
                }
            }
        };
    }
}

//! Code generation: a unit struct whose `IntoPipeline` impl calls the typed
//! API, with each stage's call spanned on the user's own tokens.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::model::{Kind, Pipeline};

pub fn expand(pipeline: &Pipeline) -> TokenStream {
    let Pipeline {
        attrs,
        vis,
        name,
        options,
        stages,
    } = pipeline;
    let name_str = name.to_string();
    let private = quote!(::stream_runtime::__private);

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
    for stage in stages {
        let arg = &stage.arg;
        let method = match stage.kind {
            Kind::Source => quote_spanned!(stage.name.span()=> source),
            Kind::Map => quote_spanned!(stage.name.span()=> map),
            Kind::Filter => quote_spanned!(stage.name.span()=> filter),
            Kind::FlatMap => quote_spanned!(stage.name.span()=> flat_map),
            Kind::KeyBy => quote_spanned!(stage.name.span()=> key_by),
            Kind::Reduce => quote_spanned!(stage.name.span()=> reduce),
            Kind::Process => quote_spanned!(stage.name.span()=> process),
            Kind::Sink => quote_spanned!(stage.name.span()=> sink),
        };
        chain = quote_spanned!(stage.name.span()=> #chain.#method(#arg));
    }

    let doc = format!(
        "The `{name_str}` pipeline. Its Restate services are `{name_str}Source`, `{name_str}Split`, \
         `{name_str}Keyed`, `{name_str}Sink` and `{name_str}Control`."
    );
    quote! {
        #(#attrs)*
        #[doc = #doc]
        #[derive(Debug, Clone, Copy, Default)]
        #vis struct #name;

        const _: () = {
            impl #name {
                /// The pipeline's name, from which its service names derive.
                pub const NAME: &'static str = #name_str;

                /// The names of the pipeline's Restate services.
                pub fn service_names() -> #private::ServiceNames {
                    #private::ServiceNames::for_pipeline(#name_str)
                }
            }

            impl #private::IntoPipeline for #name {
                fn into_pipeline(self) -> #private::PipelineDefinition {
                    #private::IntoPipeline::into_pipeline(#chain)
                }
            }
        };
    }
}

/// Documented.
///The `Letters` pipeline. Its Restate services are `LettersSource`, `LettersSplit`, `LettersKeyed`, `LettersSink` and `LettersControl`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Letters;
const _: () = {
    impl Letters {
        /// The pipeline's name, from which its service names derive.
        pub const NAME: &'static str = "Letters";
        /// The names of the pipeline's Restate services.
        pub fn service_names() -> ::stream_runtime::__private::ServiceNames {
            ::stream_runtime::__private::ServiceNames::for_pipeline("Letters")
        }
    }
    impl ::stream_runtime::__private::IntoPipeline for Letters {
        fn into_pipeline(self) -> ::stream_runtime::__private::PipelineDefinition {
            ::stream_runtime::__private::IntoPipeline::into_pipeline(
                ::stream_runtime::__private::Pipeline::named("Letters")
                    .batch_size(500)
                    .key_groups(32)
                    .max_attempts(5)
                    .source(InMemorySource::new(["a b"]))
                    .flat_map(|line| {
                        line.split(' ').map(str::to_owned).collect::<Vec<_>>()
                    })
                    .filter(|word| !word.is_empty())
                    .key_by(|word| word.clone())
                    .process(|word, ctx| ctx.collect(word))
                    .map(|word| word.len())
                    .sink(ConsoleSink::new()),
            )
        }
    }
};

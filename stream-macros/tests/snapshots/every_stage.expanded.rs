/// Documented.
///The `Letters` pipeline. Its Restate services are `LettersSource`, `LettersSplit`, `LettersKeyed`, `LettersSink` and `LettersControl` (and `LettersClock` with `event_time`).
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
};
const _: () = {
    impl ::stream_runtime::__private::IntoPipeline for Letters {
        fn into_pipeline(self) -> ::stream_runtime::__private::CompletePipeline {
            let __pipeline = ::stream_runtime::__private::Pipeline::named("Letters")
                .batch_size(500)
                .key_groups(32)
                .max_attempts(5);
            let __pipeline = __pipeline.source(InMemorySource::new(["a b"]));
            let __pipeline = __pipeline
                .flat_map(|line| line.split(' ').map(str::to_owned).collect::<Vec<_>>());
            let __pipeline = __pipeline.filter(|word| !word.is_empty());
            let __pipeline = __pipeline.key_by(|word| word.clone());
            let __pipeline = __pipeline.process(|word, ctx| ctx.collect(word));
            let __pipeline = __pipeline.map(|word| word.len());
            let __pipeline = __pipeline.sink(ConsoleSink::new());
            __pipeline
        }
    }
};

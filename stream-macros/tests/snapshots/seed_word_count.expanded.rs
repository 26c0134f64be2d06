///The `ContinuousWordCount` pipeline. Its Restate services are `ContinuousWordCountSource`, `ContinuousWordCountSplit`, `ContinuousWordCountKeyed`, `ContinuousWordCountSink` and `ContinuousWordCountControl`.
#[derive(Debug, Clone, Copy, Default)]
struct ContinuousWordCount;
const _: () = {
    impl ContinuousWordCount {
        /// The pipeline's name, from which its service names derive.
        pub const NAME: &'static str = "ContinuousWordCount";
        /// The names of the pipeline's Restate services.
        pub fn service_names() -> ::stream_runtime::__private::ServiceNames {
            ::stream_runtime::__private::ServiceNames::for_pipeline(
                "ContinuousWordCount",
            )
        }
    }
    impl ::stream_runtime::__private::IntoPipeline for ContinuousWordCount {
        fn into_pipeline(self) -> ::stream_runtime::__private::PipelineDefinition {
            ::stream_runtime::__private::IntoPipeline::into_pipeline(
                ::stream_runtime::__private::Pipeline::named("ContinuousWordCount")
                    .source(RandomWords::new())
                    .map(|word| WordCount { word, count: 1 })
                    .key_by(|wc| wc.word.clone())
                    .reduce(|a, b| WordCount {
                        count: a.count + b.count,
                        ..a
                    })
                    .sink(FileSink::new("/tmp/wordcount-output.txt")),
            )
        }
    }
};

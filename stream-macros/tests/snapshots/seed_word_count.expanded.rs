///The `ContinuousWordCount` pipeline. Its Restate services are `ContinuousWordCountSource`, `ContinuousWordCountSplit`, `ContinuousWordCountKeyed`, `ContinuousWordCountSink` and `ContinuousWordCountControl` (and `ContinuousWordCountClock` with `event_time`).
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
};
const _: () = {
    impl ::stream_runtime::__private::IntoPipeline for ContinuousWordCount {
        fn into_pipeline(self) -> ::stream_runtime::__private::CompletePipeline {
            let __pipeline = ::stream_runtime::__private::Pipeline::named(
                "ContinuousWordCount",
            );
            let __pipeline = __pipeline.source(RandomWords::new());
            let __pipeline = __pipeline.map(|word| WordCount { word, count: 1 });
            let __pipeline = __pipeline.key_by(|wc| wc.word.clone());
            let __pipeline = __pipeline
                .reduce(|a, b| WordCount {
                    count: a.count + b.count,
                    ..a
                });
            let __pipeline = __pipeline.sink(FileSink::new("/tmp/wordcount-output.txt"));
            __pipeline
        }
    }
};

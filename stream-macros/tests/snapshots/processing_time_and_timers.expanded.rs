///The `Quiet` pipeline. Its Restate services are `QuietSource`, `QuietSplit`, `QuietKeyed`, `QuietSink` and `QuietControl` (and `QuietClock` with `event_time`).
#[derive(Debug, Clone, Copy, Default)]
struct Quiet;
const _: () = {
    impl Quiet {
        /// The pipeline's name, from which its service names derive.
        pub const NAME: &'static str = "Quiet";
        /// The names of the pipeline's Restate services.
        pub fn service_names() -> ::stream_runtime::__private::ServiceNames {
            ::stream_runtime::__private::ServiceNames::for_pipeline("Quiet")
        }
    }
};
const _: () = {
    impl ::stream_runtime::__private::IntoPipeline for Quiet {
        fn into_pipeline(self) -> ::stream_runtime::__private::CompletePipeline {
            let __pipeline = ::stream_runtime::__private::Pipeline::named("Quiet");
            let __pipeline = __pipeline.source(Sequence::new());
            let __pipeline = __pipeline.key_by(|n| n % 3);
            let __pipeline = __pipeline
                .process_with_timers(
                    |n, ctx| ctx.register_processing_timer(ctx.now() + 1_000),
                    |t, ctx| ctx.collect(t.at),
                );
            let __pipeline = __pipeline.sink(ConsoleSink::new());
            __pipeline
        }
    }
};

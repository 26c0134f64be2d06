///The `SensorAverages` pipeline. Its Restate services are `SensorAveragesSource`, `SensorAveragesSplit`, `SensorAveragesKeyed`, `SensorAveragesSink` and `SensorAveragesControl` (and `SensorAveragesClock` with `event_time`).
pub struct SensorAverages {
    pub size: Duration,
}
impl ::core::clone::Clone for SensorAverages
where
    for<'__p> Duration: ::core::clone::Clone,
{
    fn clone(&self) -> Self {
        Self {
            size: ::core::clone::Clone::clone(&self.size),
        }
    }
}
const _: () = {
    impl SensorAverages {
        /// The pipeline's name, from which its service names derive.
        pub const NAME: &'static str = "SensorAverages";
        /// The names of the pipeline's Restate services.
        pub fn service_names() -> ::stream_runtime::__private::ServiceNames {
            ::stream_runtime::__private::ServiceNames::for_pipeline("SensorAverages")
        }
    }
};
const _: () = {
    impl ::stream_runtime::__private::IntoPipeline for SensorAverages {
        fn into_pipeline(self) -> ::stream_runtime::__private::CompletePipeline {
            #[allow(unused_variables)]
            let SensorAverages { size } = self;
            let __pipeline = ::stream_runtime::__private::Pipeline::named(
                "SensorAverages",
            );
            let __pipeline = __pipeline.source(Sensors::new());
            let __pipeline = __pipeline
                .event_time(
                    move |r| r.ts_millis,
                    ::stream_runtime::__private::Watermarks::max_delay(
                            ::stream_runtime::__private::Duration::from_millis(5000u64),
                        )
                        .idle(
                            ::stream_runtime::__private::Duration::from_millis(60000u64),
                        ),
                );
            let __pipeline = __pipeline.key_by(move |r| r.device);
            let __pipeline = __pipeline
                .window(
                    (::stream_runtime::__private::sliding(
                        size,
                        ::stream_runtime::__private::Duration::from_millis(10000u64),
                    ))
                        .allowed_lateness(
                            ::stream_runtime::__private::Duration::from_millis(500u64),
                        ),
                );
            let __pipeline = __pipeline
                .aggregate(Average::default(), move |acc, r| acc.add(r.temp));
            let __pipeline = __pipeline.map(move |w| w.value);
            let __pipeline = __pipeline.sink(ConsoleSink::new());
            __pipeline
        }
    }
};

///The `SensorAlerts` pipeline. Its Restate services are `SensorAlertsSource`, `SensorAlertsSplit`, `SensorAlertsKeyed`, `SensorAlertsSink` and `SensorAlertsControl` (and `SensorAlertsClock` with `event_time`).
pub struct SensorAlerts {
    pub threshold: f64,
    pub out: PathBuf,
}
impl ::core::clone::Clone for SensorAlerts
where
    for<'__p> f64: ::core::clone::Clone,
    for<'__p> PathBuf: ::core::clone::Clone,
{
    fn clone(&self) -> Self {
        Self {
            threshold: ::core::clone::Clone::clone(&self.threshold),
            out: ::core::clone::Clone::clone(&self.out),
        }
    }
}
const _: () = {
    impl SensorAlerts {
        /// The pipeline's name, from which its service names derive.
        pub const NAME: &'static str = "SensorAlerts";
        /// The names of the pipeline's Restate services.
        pub fn service_names() -> ::stream_runtime::__private::ServiceNames {
            ::stream_runtime::__private::ServiceNames::for_pipeline("SensorAlerts")
        }
    }
};
const _: () = {
    impl ::stream_runtime::__private::IntoPipeline for SensorAlerts {
        fn into_pipeline(self) -> ::stream_runtime::__private::CompletePipeline {
            #[allow(unused_variables)]
            let SensorAlerts { threshold, out } = self;
            let __pipeline = ::stream_runtime::__private::Pipeline::named("SensorAlerts")
                .batch_size(100);
            let __pipeline = __pipeline.source(Sensors::new());
            let __pipeline = __pipeline.filter(move |r| r.temp > threshold);
            let __pipeline = __pipeline.key_by(move |r| r.device);
            let __pipeline = __pipeline
                .reduce(move |a, b| if a.temp >= b.temp { a } else { b });
            let __pipeline = __pipeline.sink(FileSink::new(out));
            __pipeline
        }
    }
};

///The `SensorAlerts` pipeline. Its Restate services are `SensorAlertsSource`, `SensorAlertsSplit`, `SensorAlertsKeyed`, `SensorAlertsSink` and `SensorAlertsControl` (and `SensorAlertsClock` with `event_time`).
#[derive(Clone)]
pub struct SensorAlerts {
    pub threshold: f64,
    pub out: PathBuf,
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
            let SensorAlerts { threshold, out } = self;
            let __pipeline = ::stream_runtime::__private::Pipeline::named("SensorAlerts")
                .batch_size(100);
            let __pipeline = __pipeline
                .source({
                    #[allow(unused_variables)]
                    let threshold = ::core::clone::Clone::clone(&threshold);
                    #[allow(unused_variables)]
                    let out = ::core::clone::Clone::clone(&out);
                    Sensors::new()
                });
            let __pipeline = __pipeline
                .filter({
                    #[allow(unused_variables)]
                    let threshold = ::core::clone::Clone::clone(&threshold);
                    #[allow(unused_variables)]
                    let out = ::core::clone::Clone::clone(&out);
                    move |r| r.temp > threshold
                });
            let __pipeline = __pipeline
                .key_by({
                    #[allow(unused_variables)]
                    let threshold = ::core::clone::Clone::clone(&threshold);
                    #[allow(unused_variables)]
                    let out = ::core::clone::Clone::clone(&out);
                    move |r| r.device
                });
            let __pipeline = __pipeline
                .reduce({
                    #[allow(unused_variables)]
                    let threshold = ::core::clone::Clone::clone(&threshold);
                    #[allow(unused_variables)]
                    let out = ::core::clone::Clone::clone(&out);
                    move |a, b| if a.temp >= b.temp { a } else { b }
                });
            let __pipeline = __pipeline
                .sink({
                    #[allow(unused_variables)]
                    let threshold = ::core::clone::Clone::clone(&threshold);
                    #[allow(unused_variables)]
                    let out = ::core::clone::Clone::clone(&out);
                    FileSink::new(out)
                });
            __pipeline
        }
    }
};

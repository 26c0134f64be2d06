//! Two sinks for one stream: each record goes to the main sink or to the
//! side sink, as a function of it says, and each sink is written exactly
//! once, by its own partitions.

use std::io;

use serde::{Deserialize, Serialize};

use super::Sink;

/// Where [`SideOutput`]'s function sends a record, and as what. A stage
/// can also emit it (a `process` function's named output, or a window's
/// late data), for [`SideOutput::split`] to write.
///
/// ```
/// use stream_runtime::sink::To;
///
/// let routed: [To<u64, String>; 2] = [To::Main(7), To::Side("not a number".into())];
/// assert_eq!(serde_json::to_string(&routed[0]).unwrap(), r#"{"main":7}"#);
/// assert_eq!(serde_json::to_string(&routed[1]).unwrap(), r#"{"side":"not a number"}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum To<M, S> {
    /// To the main sink, as `M`.
    Main(M),
    /// To the side sink, as `S`.
    Side(S),
}

/// A sink that sends each record to `main` or to `side`, as `route` says:
/// valid records to Kafka and rejected ones to PostgreSQL, say (Flink's
/// side outputs, decided at the sink). Its partitions are `main`'s, then
/// `side`'s, each with its own committed offset, so each sink is written
/// exactly once as it would be alone. A token's output goes to the main
/// partition and the side partition its id picks.
///
/// `route` is called more than once for a record (to pick its partition,
/// then to write it): it must give the same answer each time, as any
/// function of a pipeline must.
///
/// ```
/// use stream_runtime::sink::{SideOutput, To};
/// use stream_runtime::{CollectSink, Pipeline, Sequence};
///
/// let (even, odd) = (CollectSink::new(), CollectSink::new());
/// let split = Pipeline::named("Parity")
///     .source(Sequence::new().take(100))
///     .sink(SideOutput::new(
///         |n: &u64| if n.is_multiple_of(2) { To::Main(*n) } else { To::Side(n.to_string()) },
///         even.clone(),
///         odd.clone(),
///     ));
/// # let _ = split;
/// ```
#[derive(Debug, Clone)]
pub struct SideOutput<F, A, B> {
    route: F,
    main: A,
    side: B,
}

impl<F, A, B> SideOutput<F, A, B> {
    /// Sends each record where `route` says: `To::Main` to `main`,
    /// `To::Side` to `side`.
    pub fn new(route: F, main: A, side: B) -> Self {
        Self { route, main, side }
    }
}

/// The route of records that are already a [`To`].
type Split<M, S> = fn(&To<M, S>) -> To<M, S>;

impl<A, B> SideOutput<(), A, B> {
    /// For a stream of [`To`]s (a stage that emits to a named output, or
    /// a window with its late data beside its results): `To::Main(m)` to
    /// `main` as `m`, `To::Side(s)` to `side` as `s`.
    ///
    /// ```
    /// use stream_runtime::sink::{SideOutput, To};
    /// use stream_runtime::{CollectSink, Pipeline, Sequence};
    ///
    /// let split = Pipeline::named("Tagged")
    ///     .source(Sequence::new().take(10))
    ///     .map(|n| if n < 5 { To::Main(n) } else { To::Side(n.to_string()) })
    ///     .sink(SideOutput::split(CollectSink::<u64>::new(), CollectSink::<String>::new()));
    /// # let _ = split;
    /// ```
    pub fn split<M: Clone, S: Clone>(main: A, side: B) -> SideOutput<Split<M, S>, A, B> {
        SideOutput {
            route: To::clone,
            main,
            side,
        }
    }
}

impl<T, M, S, F, A, B> Sink<T> for SideOutput<F, A, B>
where
    T: Sync,
    M: Send + Sync,
    S: Send + Sync,
    F: Fn(&T) -> To<M, S> + Send + Sync + 'static,
    A: Sink<M>,
    B: Sink<S>,
{
    fn partitions(&self) -> u32 {
        self.main
            .partitions()
            .max(1)
            .saturating_add(self.side.partitions().max(1))
    }

    /// The partition of the sink the record is for, as that sink routes it:
    /// a nested `SideOutput` picks its own inner sink.
    fn route(&self, token: u64, record: &T) -> u32 {
        let main = self.main.partitions().max(1);
        match (self.route)(record) {
            To::Main(m) => self.main.route(token, &m).min(main - 1),
            To::Side(s) => {
                let side = self.side.partitions().max(1);
                main + self.side.route(token, &s).min(side - 1)
            }
        }
    }

    async fn write(&self, partition: u32, committed: u64, records: &[T]) -> io::Result<u64> {
        let main = self.main.partitions().max(1);
        // The round sends a partition only the records routed to it.
        if partition < main {
            let records: Vec<M> = records
                .iter()
                .filter_map(|r| match (self.route)(r) {
                    To::Main(m) => Some(m),
                    To::Side(_) => None,
                })
                .collect();
            self.main.write(partition, committed, &records).await
        } else {
            let records: Vec<S> = records
                .iter()
                .filter_map(|r| match (self.route)(r) {
                    To::Side(s) => Some(s),
                    To::Main(_) => None,
                })
                .collect();
            self.side.write(partition - main, committed, &records).await
        }
    }

    async fn after_failed_write(&self, partition: u32, committed: u64) -> io::Result<u64> {
        let main = self.main.partitions().max(1);
        match partition.checked_sub(main) {
            None => self.main.after_failed_write(partition, committed).await,
            Some(side) => self.side.after_failed_write(side, committed).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::CollectSink;
    use crate::testing::block_on;

    #[test]
    fn each_record_goes_to_the_partition_of_its_sink() {
        let (main, side) = (CollectSink::<u64>::new(), CollectSink::<String>::new());
        let sink = SideOutput::new(
            |n: &u64| {
                if n.is_multiple_of(3) {
                    To::Side(format!("#{n}"))
                } else {
                    To::Main(*n)
                }
            },
            main.clone(),
            side.clone(),
        );
        assert_eq!(sink.partitions(), 2);
        assert_eq!(sink.route(7, &4), 0);
        assert_eq!(sink.route(7, &3), 1);
        let written = block_on(sink.write(0, 0, &[1, 2, 4]));
        assert_eq!(written.ok(), Some(3));
        let written = block_on(sink.write(1, 0, &[3, 6]));
        assert_eq!(written.ok(), Some(2));
        assert_eq!(main.records(), [1, 2, 4]);
        assert_eq!(side.records(), ["#3", "#6"]);
    }

    /// `To::Side(To::Side(n))` reaches the innermost sink, whichever token
    /// wrote it: the outer sink routes by the inner one's route.
    #[test]
    fn a_nested_side_output_routes_each_record_to_its_innermost_sink() {
        type Three = To<u64, To<u64, u64>>;
        let (a, b, c) = (CollectSink::new(), CollectSink::new(), CollectSink::new());
        let sink = SideOutput::split(a.clone(), SideOutput::split(b.clone(), c.clone()));
        assert_eq!(Sink::<Three>::partitions(&sink), 3);
        let records: Vec<Three> = (0..9)
            .map(|n| match n % 3 {
                0 => To::Main(n),
                1 => To::Side(To::Main(n)),
                _ => To::Side(To::Side(n)),
            })
            .collect();
        let mut committed = [0u64; 3];
        for token in 0..4 {
            let mut by_partition = std::collections::BTreeMap::<u32, Vec<Three>>::new();
            for record in &records {
                let partition = sink.route(token, record);
                by_partition
                    .entry(partition)
                    .or_default()
                    .push(record.clone());
            }
            assert_eq!(by_partition.keys().copied().collect::<Vec<_>>(), [0, 1, 2]);
            for (partition, records) in by_partition {
                let at = &mut committed[partition as usize];
                let written = block_on(sink.write(partition, *at, &records));
                assert_eq!(written.ok(), Some(*at + 3), "partition {partition}");
                *at += 3;
            }
        }
        assert_eq!(a.records().len(), 12);
        assert!(b.records().iter().all(|n| n % 3 == 1) && b.records().len() == 12);
        assert!(c.records().iter().all(|n| n % 3 == 2) && c.records().len() == 12);
    }
}

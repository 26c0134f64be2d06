//! Writing a round's output to the token's sink partition.

use super::fit::{cut, encoded_len, too_large_reason};
use super::Round;
use crate::guard::RecordFailed;
use crate::protocol::handlers::sink;
use crate::protocol::{Calls, Token};
use crate::stages::Dataflow;

impl<D: Dataflow, C: Calls> Round<'_, D, C> {
    /// Writes the range's output to the sink partitions it routes to (the
    /// token's own, its id modulo the partitions, unless the sink routes
    /// records itself, as a side output does), partition after partition,
    /// each in as many calls, in order, as
    /// [`max_call_bytes`](crate::PipelineConfig::max_call_bytes) needs; a
    /// record too large for a call alone goes to the dead-letter output.
    pub(super) async fn write(&self, token: Token, output: Vec<D::Out>) {
        let budget = self.flow.config().max_call_bytes;
        for (partition, output) in self.flow.by_sink_partition(token.id, output) {
            let cut = cut(output, budget, encoded_len);
            for (_, bytes) in cut.too_large {
                let reason = too_large_reason(bytes, budget);
                self.dead_letter(self.lease.from, 1, "sink", reason, None);
            }
            for call in cut.calls {
                self.write_call(partition, call).await;
            }
        }
    }

    /// Writes one call's records. A record the sink rejects (see
    /// [`Rejected`](crate::sink::Rejected)) goes to the dead-letter output
    /// and the rest are written again; a batch that cannot be encoded, or
    /// whose write fails after its attempts, goes there whole.
    async fn write_call(&self, partition: u32, mut output: Vec<D::Out>) {
        loop {
            let error = match self.calls.call::<sink::Write<D::Out>>(partition, &output) {
                Ok(call) => match call.await {
                    Ok(()) => return,
                    Err(error) => error,
                },
                Err(error) => {
                    let error = format!("cannot serialize the batch for the sink: {error}");
                    self.dead_letter(self.lease.from, self.lease.count, "sink", error, None);
                    return;
                }
            };
            let Some(failure) =
                RecordFailed::from_terminal(&error).filter(|f| f.index < output.len())
            else {
                let error = error.message().to_owned();
                self.dead_letter(self.lease.from, self.lease.count, "sink", error, None);
                return;
            };
            let record = serde_json::to_value(output.remove(failure.index)).ok();
            self.dead_letter(self.lease.from, 1, "sink", failure.error, record);
            if output.is_empty() {
                return;
            }
        }
    }
}

//! Writing a round's output to the token's sink partition.

use super::Round;
use crate::protocol::handlers::sink;
use crate::protocol::{Calls, Token};
use crate::stages::Dataflow;

impl<D: Dataflow, C: Calls> Round<'_, D, C> {
    /// Writes the range's output to the token's sink partition (its id
    /// modulo the partitions); a batch that cannot be encoded, or whose
    /// write fails after its attempts, goes to the dead-letter output.
    pub(super) async fn write(&self, token: Token, output: &Vec<D::Out>) {
        let partition = (token.id % u64::from(self.flow.sink_partitions())) as u32;
        let written = match self.calls.call::<sink::Write<D>>(partition, output) {
            Ok(call) => call.await.map_err(|e| e.message().to_owned()),
            Err(error) => Err(format!("cannot serialize the batch for the sink: {error}")),
        };
        if let Err(error) = written {
            self.dead_letter(self.lease.from, self.lease.count, "sink", error, None);
        }
    }
}

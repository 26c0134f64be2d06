//! The calls a key group plans for its batch, and their idempotency keys.

use super::Call;

/// One call a key group makes for its batch: the lookup, its idempotency
/// key within the stage, and the records of the batch it answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    /// The lookup.
    pub call: Call,
    /// Its idempotency key within the stage.
    pub id: String,
    /// The records of the batch it answers, by index.
    pub records: Vec<usize>,
}

/// The idempotency key of a call within its stage: the user's, or the
/// record's encoded key, how many of the key's batches called before
/// (`calls`), and a hash of the target and the request (the caller adds
/// how many calls of the batch came before with the same key).
pub(crate) fn call_id(call: &Call, encoded_key: &str, calls: u64) -> String {
    if let Some(key) = &call.key {
        return format!("u:{key}");
    }
    let target = serde_json::to_string(&call.target).unwrap_or_default();
    let request = match &call.body {
        Ok(body) => body.to_string(),
        Err(_) => String::new(),
    };
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in target.bytes().chain([0]).chain(request.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("k:{encoded_key}:{calls}:{hash:016x}")
}

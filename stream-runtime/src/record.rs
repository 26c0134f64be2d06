//! What a record must be to travel between stages.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A value that can travel between pipeline stages.
///
/// Records cross stage boundaries as durable Restate calls, so they must
/// serialize (JSON on the wire) and be sendable across threads. Every type
/// that meets the bounds is a `Record`; there is nothing to implement.
pub trait Record: Serialize + DeserializeOwned + Send + Sync + 'static {}

impl<T: Serialize + DeserializeOwned + Send + Sync + 'static> Record for T {}

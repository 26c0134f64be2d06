//! What values must be to travel between stages, to be keys, or to be
//! reduced. Each trait names its requirement in the error a user sees.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A value that can travel between pipeline stages.
///
/// Records cross stage boundaries (into `key_by`'s key groups, and into the
/// sink) as durable Restate calls, so they must serialize (JSON on the wire)
/// and be sendable across threads. Every type that meets the bounds is a
/// `Record`; there is nothing to implement.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use stream_runtime::Record;
///
/// #[derive(Serialize, Deserialize)]
/// struct Reading {
///     sensor: String,
///     celsius: f64,
/// }
///
/// fn travels<T: Record>() {}
/// travels::<Reading>();
/// travels::<(String, u64)>();
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot travel between stages: records that reach `key_by` or `sink` must be `Serialize + Deserialize`",
    label = "`{Self}` crosses a stage here",
    note = "derive both on the type: `#[derive(serde::Serialize, serde::Deserialize)]`"
)]
pub trait Record: Serialize + DeserializeOwned + Send + Sync + 'static {}

impl<T: Serialize + DeserializeOwned + Send + Sync + 'static> Record for T {}

/// A value `key_by` can return: keys are stored and hashed as JSON.
///
/// ```
/// use stream_runtime::Key;
///
/// fn is_key<K: Key>(_: K) {}
/// is_key("sensor-1".to_owned());
/// is_key(("eu", 7u32)); // a composite key is a tuple
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a key: what `key_by` returns must be `Serialize`",
    label = "this `key_by` returns `{Self}`",
    note = "derive it on the key type, `#[derive(serde::Serialize)]`, or return a field that is, such as a `String` or a tuple"
)]
pub trait Key: Serialize + 'static {}

impl<T: Serialize + 'static> Key for T {}

/// A value `reduce` can fold: it keeps one per key as state and emits a copy
/// after every record.
///
/// To be kept as state and emitted it must also be a [`Record`]:
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use stream_runtime::{Aggregate, Record};
///
/// #[derive(Clone, Serialize, Deserialize)]
/// struct Total {
///     count: u64,
///     sum: f64,
/// }
///
/// fn folds<A: Aggregate + Record>(_: &A) {}
/// folds(&Total { count: 1, sum: 20.5 });
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be reduced: `reduce` keeps a `{Self}` per key and emits a copy of it, so it must be `Clone`",
    label = "this `reduce` folds `{Self}`",
    note = "derive it on the type: `#[derive(Clone)]`"
)]
pub trait Aggregate: Clone {}

impl<T: Clone> Aggregate for T {}

use super::{KeyedOperator, StateError};
use crate::record::Key;

/// The keyed part of a pipeline: either nothing ([`Unkeyed`]) or a key
/// selector with one stateful operator ([`Keyed`]).
pub trait KeyedStage<In>: Send + Sync + 'static {
    /// The records the stage emits.
    type Out;
    /// The state kept per key.
    type State;

    /// Whether records go through keyed Virtual Objects at all.
    fn is_keyed(&self) -> bool;

    /// The key of a record, encoded as it is stored and hashed (JSON).
    fn encode_key(&self, record: &In) -> Result<String, serde_json::Error>;

    /// Applies the stateful operator to one record of its key.
    fn apply(
        &self,
        state: &mut Option<Self::State>,
        input: In,
        out: &mut Vec<Self::Out>,
    ) -> Result<(), StateError>;

    /// For a stage with no key, hands the record through unchanged;
    /// a keyed stage gives it back as `Err`.
    fn pass_through(&self, record: In) -> Result<Self::Out, In>;
}

/// No keyed stage: records flow from the source stage to the sink.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unkeyed;

impl<In: Send + Sync + 'static> KeyedStage<In> for Unkeyed {
    type Out = In;
    type State = ();

    fn is_keyed(&self) -> bool {
        false
    }

    fn encode_key(&self, _record: &In) -> Result<String, serde_json::Error> {
        Ok(String::new())
    }

    fn apply(&self, _: &mut Option<()>, input: In, out: &mut Vec<In>) -> Result<(), StateError> {
        out.push(input);
        Ok(())
    }

    fn pass_through(&self, record: In) -> Result<In, In> {
        Ok(record)
    }
}

/// `key_by` followed by a stateful operator (`reduce` or `process`).
///
/// ```
/// use stream_runtime::keyed::{key_encoder, Keyed, KeyedStage, Reduce, Unkeyed};
///
/// let count = Keyed::new(|w: &(String, u64)| w.0.clone(), key_encoder(), Reduce::new(
///     |(w, a): (String, u64), (_, b): (String, u64)| (w, a + b),
/// ));
/// let record = ("to".to_owned(), 1);
/// assert_eq!(count.encode_key(&record).unwrap(), r#""to""#);
/// let (mut state, mut out) = (None, Vec::new());
/// count.apply(&mut state, record.clone(), &mut out).unwrap();
/// count.apply(&mut state, record, &mut out).unwrap();
/// assert_eq!(out.last(), Some(&("to".to_owned(), 2)));
///
/// // Without `key_by`, a record passes straight through.
/// assert_eq!(KeyedStage::<u8>::pass_through(&Unkeyed, 7), Ok(7));
/// ```
pub struct Keyed<KF, Op, K> {
    key_fn: KF,
    op: Op,
    encode: KeyEncoder<K>,
}

/// Encodes a key as JSON. Taken where `K: Serialize` is checked (on the
/// user's `key_by`), so no later bound repeats that error.
pub type KeyEncoder<K> = fn(&K) -> Result<String, serde_json::Error>;

/// The encoder of a key type.
pub fn key_encoder<K: Key>() -> KeyEncoder<K> {
    |key| serde_json::to_string(key)
}

impl<KF, Op, K> Keyed<KF, Op, K> {
    /// Keys records with `key_fn`, encodes keys with `encode` (see
    /// [`key_encoder`]) and applies `op` per key.
    pub fn new(key_fn: KF, encode: KeyEncoder<K>, op: Op) -> Self {
        Self { key_fn, op, encode }
    }
}

impl<In, KF, Op, K> KeyedStage<In> for Keyed<KF, Op, K>
where
    KF: Fn(&In) -> K + Send + Sync + 'static,
    K: 'static,
    Op: KeyedOperator<K, In>,
{
    type Out = Op::Out;
    type State = Op::State;

    fn is_keyed(&self) -> bool {
        true
    }

    fn encode_key(&self, record: &In) -> Result<String, serde_json::Error> {
        (self.encode)(&(self.key_fn)(record))
    }

    fn apply(
        &self,
        state: &mut Option<Op::State>,
        input: In,
        out: &mut Vec<Op::Out>,
    ) -> Result<(), StateError> {
        let key = (self.key_fn)(&input);
        self.op.apply(&key, state, input, out)
    }

    fn pass_through(&self, record: In) -> Result<Op::Out, In> {
        Err(record)
    }
}

//! The protocol between a pipeline's Restate services, declared once.
//!
//! Each handler is a type implementing [`Handler`]: its service, its name,
//! its input and its output ([`handlers`] lists them all). The code that
//! serves a handler (`services/`) and the code that calls it (through
//! [`Calls`]) both go through that one declaration, so the compiler checks
//! that caller and handler agree, as the clients restate-sdk's macros
//! generate do.

mod batch_answer;
pub(crate) mod codec;
pub(crate) mod handlers;
mod messages;
pub mod overview;

use std::future::Future;
use std::marker::PhantomData;

use restate_sdk::context::{Context, ObjectContext, RequestTarget, SharedObjectContext};
use restate_sdk::discovery::{HandlerType, ServiceType};
use restate_sdk::endpoint::{ContextInternal, InputMetadata};
use restate_sdk::errors::TerminalError;

pub(crate) use batch_answer::{BatchAnswer, BatchFailed};
pub(crate) use messages::{
    Advanced, Answer, Entry, KeyedBatch, LogTake, LogTaken, Passed, SinkBatch, Take, Taken,
};
pub use messages::{
    Appended, ControlState, DeadLetter, Dry, FailedStage, Layout, Lease, PushBatch, SinkProgress,
    SplitProgress, Status, Token, TokensAdded,
};

use crate::names::ServiceNames;
use crate::record::Record;
use codec::Encoding;

/// Why a message could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CodecError {
    /// The bytes are not the JSON the type expects, or the value cannot be
    /// written as JSON (a map with keys that are not strings, say).
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// The bytes are not the MessagePack the type expects, or the value
    /// cannot be written as MessagePack.
    #[error("MessagePack: {0}")]
    Binary(String),
    /// A body where the handler takes none.
    #[error("expected no body")]
    UnexpectedBody,
}

/// A value that crosses the wire as a handler's input or output.
pub(crate) trait Message: Sized + Send + 'static {
    /// What the handler accepts, as discovery describes it.
    const PAYLOAD: Payload = Payload::Json;
    /// The bytes sent.
    fn encode(&self) -> Result<Vec<u8>, CodecError>;
    /// The value received.
    fn decode(bytes: &[u8]) -> Result<Self, CodecError>;
    /// The bytes sent, consuming the value (a handler's output).
    fn into_bytes(self) -> Result<Vec<u8>, CodecError> {
        self.encode()
    }
    /// The bytes as JSON whatever the encoding, for tests to read.
    #[cfg(test)]
    fn as_json(&self) -> Result<Vec<u8>, CodecError> {
        self.encode()
    }
}

/// A `T` the handler encoded itself, before committing anything else, so
/// that a value that cannot be encoded changes nothing.
pub(crate) struct Encoded<T> {
    bytes: Vec<u8>,
    value: PhantomData<fn() -> T>,
}

impl<T: Message> Encoded<T> {
    pub(crate) fn new(value: &T) -> Result<Self, CodecError> {
        Ok(Self {
            bytes: value.encode()?,
            value: PhantomData,
        })
    }

    /// The value, decoded.
    pub(crate) fn open(&self) -> Result<T, CodecError> {
        T::decode(&self.bytes)
    }
}

impl<T: Message> Message for Encoded<T> {
    const PAYLOAD: Payload = T::PAYLOAD;

    fn encode(&self) -> Result<Vec<u8>, CodecError> {
        Ok(self.bytes.clone())
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        Ok(Self {
            bytes: bytes.to_vec(),
            value: PhantomData,
        })
    }

    fn into_bytes(self) -> Result<Vec<u8>, CodecError> {
        Ok(self.bytes)
    }
}

/// What a handler takes as input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Payload {
    /// A JSON body, required.
    Json,
    /// Any body or none (the handler parses and validates it).
    Any,
    /// No body.
    Empty,
}

/// Nothing: an empty body.
impl Message for () {
    const PAYLOAD: Payload = Payload::Empty;

    fn encode(&self) -> Result<Vec<u8>, CodecError> {
        Ok(Vec::new())
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        match bytes {
            b"" | b"null" => Ok(()),
            _ => Err(CodecError::UnexpectedBody),
        }
    }
}

/// A body the handler validates itself (`addTokens`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawBody(pub Vec<u8>);

impl Message for RawBody {
    const PAYLOAD: Payload = Payload::Any;

    fn encode(&self) -> Result<Vec<u8>, CodecError> {
        Ok(self.0.clone())
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        Ok(Self(bytes.to_vec()))
    }
}

/// A batch of records.
impl<T: Record> Message for Vec<T> {
    fn encode(&self) -> Result<Vec<u8>, CodecError> {
        Ok(serde_json::to_vec(self)?)
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        Ok(serde_json::from_slice(bytes)?)
    }
}

/// A sink's batch, in the encoding it was given: as JSON, the sequence of
/// records alone, as sinks of earlier versions were called.
impl<T: Record> Message for SinkBatch<T> {
    fn encode(&self) -> Result<Vec<u8>, CodecError> {
        codec::encode(&self.records, self.encoding)
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        Ok(Self {
            records: codec::decode(bytes)?,
            encoding: Encoding::of(bytes),
        })
    }

    #[cfg(test)]
    fn as_json(&self) -> Result<Vec<u8>, CodecError> {
        codec::encode(&self.records, Encoding::Json)
    }
}

/// A key group's batch, in the encoding it was given.
impl<T: Record> Message for KeyedBatch<T> {
    fn encode(&self) -> Result<Vec<u8>, CodecError> {
        codec::encode(self, self.encoding)
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        let batch: Self = codec::decode(bytes)?;
        Ok(Self {
            encoding: Encoding::of(bytes),
            ..batch
        })
    }

    #[cfg(test)]
    fn as_json(&self) -> Result<Vec<u8>, CodecError> {
        codec::encode(self, Encoding::Json)
    }
}

/// A key group's answer, in the encoding it was given, or JSON when it
/// carries records for the next stage (JSON text already).
impl<T: Record> Message for Answer<T> {
    fn encode(&self) -> Result<Vec<u8>, CodecError> {
        let encoding = match self.passed.is_empty() {
            true => self.encoding,
            false => Encoding::Json,
        };
        codec::encode(self, encoding)
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        codec::decode(bytes)
    }

    #[cfg(test)]
    fn as_json(&self) -> Result<Vec<u8>, CodecError> {
        codec::encode(self, Encoding::Json)
    }
}

/// Messages sent as JSON.
macro_rules! json_messages {
    ($($ty:ty),* $(,)?) => {$(
        impl Message for $ty {
            fn encode(&self) -> Result<Vec<u8>, CodecError> {
                Ok(serde_json::to_vec(self)?)
            }

            fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
                Ok(serde_json::from_slice(bytes)?)
            }
        }
    )*};
}

json_messages!(
    u32,
    u64,
    i64,
    crate::time::watermark::Report,
    crate::time::watermark::Need,
    crate::time::watermark::Clock,
    Advanced,
    String,
    Token,
    Lease,
    PushBatch,
    Appended,
    LogTake,
    LogTaken,
    SplitProgress,
    SinkProgress,
    ControlState,
    DeadLetter,
    Status,
    TokensAdded,
    Take,
    Taken,
    overview::Overview,
    overview::ReplayRequest,
    overview::Replayed,
);

/// One of a pipeline's five services: its name, its kind, and its key.
pub(crate) trait ServiceKind: 'static {
    /// Service or Virtual Object.
    const TYPE: ServiceType;
    /// What addresses one instance.
    type Key: ObjectKey;
    /// The service's name for a pipeline.
    fn name(names: &ServiceNames) -> &str;
}

/// The key of a service's instances.
pub(crate) trait ObjectKey: Clone + Send + Sync + 'static {
    /// The key as Restate sees it; `None` for a plain service.
    fn key(&self) -> Option<String>;

    /// The service the instance is of, given its service's name for the
    /// pipeline: that name, but for a key naming one of several.
    fn service<'n>(&self, name: &'n str) -> std::borrow::Cow<'n, str> {
        std::borrow::Cow::Borrowed(name)
    }

    /// Where a call to `handler` of the instance goes.
    fn target(&self, service: &str, handler: &str) -> RequestTarget {
        let service = self.service(service);
        let service = service.as_ref();
        match self.key() {
            Some(key) => RequestTarget::object(service, key, handler),
            None => RequestTarget::service(service, handler),
        }
    }
}

/// A plain service has no key.
impl ObjectKey for () {
    fn key(&self) -> Option<String> {
        None
    }
}

/// Splits, key groups and sink partitions are numbered.
impl ObjectKey for u32 {
    fn key(&self) -> Option<String> {
        Some(self.to_string())
    }
}

/// A key group of any keyed stage: `level` 0 is the first
/// (`{P}Keyed`), 1 the second (`{P}Keyed2`), and so on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StageGroup {
    pub level: u32,
    pub group: u32,
}

impl ObjectKey for StageGroup {
    fn key(&self) -> Option<String> {
        Some(self.group.to_string())
    }

    fn service<'n>(&self, first: &'n str) -> std::borrow::Cow<'n, str> {
        crate::names::keyed_at(first, self.level)
    }
}

/// How a handler may touch its object's state, and so which context it gets.
pub(crate) trait Access: 'static {
    /// The SDK context the handler runs with.
    type Context<'a>: From<(&'a ContextInternal, InputMetadata)>;
    /// As discovery describes it (`None` for a plain service's handlers).
    const TYPE: Option<HandlerType>;
}

/// A plain service's handler.
pub(crate) struct Stateless;
/// A Virtual Object's exclusive handler: one at a time per key.
pub(crate) struct Exclusive;
/// A Virtual Object's shared handler: reads state, runs alongside others.
pub(crate) struct Shared;

impl Access for Stateless {
    type Context<'a> = Context<'a>;
    const TYPE: Option<HandlerType> = None;
}

impl Access for Exclusive {
    type Context<'a> = ObjectContext<'a>;
    const TYPE: Option<HandlerType> = Some(HandlerType::Exclusive);
}

impl Access for Shared {
    type Context<'a> = SharedObjectContext<'a>;
    const TYPE: Option<HandlerType> = Some(HandlerType::Shared);
}

/// One handler of one service. Durable: Restate keys invocations by the
/// service and handler names.
pub(crate) trait Handler: 'static {
    /// The service it belongs to.
    type Service: ServiceKind;
    /// Exclusive, shared, or a plain service's.
    type Access: Access;
    /// Its input.
    type Input: Message;
    /// Its output.
    type Output: Message;
    /// Its name.
    const NAME: &'static str;
    /// Reachable through the ingress (otherwise private to the pipeline).
    const PUBLIC: bool = false;
    /// Reads state key by key instead of receiving all of it.
    const LAZY_STATE: bool = false;
}

/// The key of the instance a handler is called on.
pub(crate) type KeyOf<H> = <<H as Handler>::Service as ServiceKind>::Key;

/// Why a call was not made.
#[derive(Debug, thiserror::Error)]
#[error("cannot encode the input of `{handler}`: {reason}")]
pub(crate) struct EncodeError {
    pub handler: &'static str,
    #[source]
    pub reason: CodecError,
}

/// `H`'s input as it is sent.
pub(crate) fn encode_input<H: Handler>(input: &H::Input) -> Result<Vec<u8>, EncodeError> {
    input.encode().map_err(|reason| EncodeError {
        handler: H::NAME,
        reason,
    })
}

/// The calls a pipeline makes to its own services: the one seam between the
/// dataflow and Restate. Over the SDK's context in production (each call a
/// journaled invocation), and a fake in unit tests.
pub(crate) trait Calls: Sync {
    /// Calls `H` on instance `key` and waits for its output. The input is
    /// encoded first, so one that cannot be is an error here, not a retry
    /// loop inside the SDK. Calls issued before any is awaited run in
    /// parallel.
    fn call<'s, H: Handler>(
        &'s self,
        key: KeyOf<H>,
        input: &H::Input,
    ) -> Result<
        impl Future<Output = Result<H::Output, TerminalError>> + Send + use<'s, Self, H>,
        EncodeError,
    >;

    /// Sends `H` to instance `key` without waiting (a one-way invocation).
    fn send<H: Handler>(&self, key: KeyOf<H>, input: &H::Input) -> Result<(), EncodeError>;

    /// Sends `H` to instance `key` after `delay`: a durable delayed call.
    fn send_after<H: Handler>(
        &self,
        key: KeyOf<H>,
        input: &H::Input,
        delay: std::time::Duration,
    ) -> Result<(), EncodeError>;
}

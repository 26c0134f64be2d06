//! Durable lookups: what an [`enrich`](crate::KeyedStream::enrich) stage
//! calls per record, another Restate service's handler or an HTTP
//! endpoint, and how (calls in flight, order, timeout, cache).
//!
//! A lookup is made by the record's key group, inside its Virtual Object
//! invocation, and its answer is journaled: a replay after a crash takes
//! the answer from the journal and never calls again. A call to a Restate
//! handler also carries an idempotency key (see
//! [`Lookup::idempotency_key`]), so that even a new invocation with the
//! same records (a batch tried again without a record that failed after
//! the stage) is answered from Restate's record of the first call. An HTTP call is made in a
//! journaled `ctx.run`: at least once, exactly once in the output, with
//! the same key in its `Idempotency-Key` header for the endpoint to
//! deduplicate on.

pub(crate) mod http;
mod options;
mod plan;

pub use options::{Enrich, Order};
// A public type in a private module: the keyed-stage trait names it, and a
// user cannot.
pub(crate) use plan::{call_id, Planned};

use std::marker::PhantomData;

use serde::{Deserialize, Serialize};

/// What an enrichment stage calls for one record, answering `Res`
/// (decoded from the answer's JSON).
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use stream_runtime::lookup::Lookup;
///
/// #[derive(Serialize, Deserialize)]
/// struct Profile { name: String }
///
/// // `Profiles/get`, a handler of a Restate service: `get(Json<u32>) -> Json<Profile>`.
/// let profile: Lookup<Profile> = Lookup::service("Profiles", "get", &7u32);
/// // The same, of a Virtual Object keyed by user.
/// let object: Lookup<Profile> = Lookup::object("Users", "7", "profile", &());
/// // `GET http://…/users/7`, answering JSON.
/// let http: Lookup<Profile> = Lookup::get("http://127.0.0.1:8000/users/7");
/// # let _ = (profile, object, http);
/// ```
pub struct Lookup<Res> {
    pub(crate) call: Call,
    answer: PhantomData<fn() -> Res>,
}

/// Where a lookup goes, and what it sends: untyped, as the handlers and
/// the reference model take it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    /// The handler or endpoint.
    pub target: Target,
    /// The request's body as JSON (`null` for a GET), or why the request
    /// did not encode.
    pub body: Result<serde_json::Value, String>,
    /// The idempotency key the user gave, if any (see
    /// [`Lookup::idempotency_key`]).
    pub key: Option<String>,
}

/// The handler or endpoint a lookup calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    /// A handler of a Restate service.
    Service {
        /// The service's name.
        service: String,
        /// The handler's name.
        handler: String,
    },
    /// A handler of a Restate Virtual Object, at one key.
    Object {
        /// The object's name.
        object: String,
        /// Its key.
        key: String,
        /// The handler's name.
        handler: String,
    },
    /// An HTTP endpoint: a GET, or a POST of the body.
    Http {
        /// The endpoint's URL, `http://` only.
        url: String,
        /// Whether the body is POSTed (else a GET, with no body).
        post: bool,
    },
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Service { service, handler } => write!(f, "{service}/{handler}"),
            Self::Object {
                object,
                key,
                handler,
            } => write!(f, "{object}/{key}/{handler}"),
            Self::Http { url, post: false } => write!(f, "GET {url}"),
            Self::Http { url, post: true } => write!(f, "POST {url}"),
        }
    }
}

impl<Res> Lookup<Res> {
    fn new(target: Target, body: Result<serde_json::Value, String>) -> Self {
        Self {
            call: Call {
                target,
                body,
                key: None,
            },
            answer: PhantomData,
        }
    }

    /// Calls `handler` of the Restate service `service` with `request` (as
    /// JSON, which `Json<T>` and the SDK's primitive types read).
    pub fn service(
        service: impl Into<String>,
        handler: impl Into<String>,
        request: &impl Serialize,
    ) -> Self {
        let target = Target::Service {
            service: service.into(),
            handler: handler.into(),
        };
        Self::new(target, encode(request))
    }

    /// Calls `handler` of the Restate Virtual Object `object` at `key`.
    pub fn object(
        object: impl Into<String>,
        key: impl Into<String>,
        handler: impl Into<String>,
        request: &impl Serialize,
    ) -> Self {
        let target = Target::Object {
            object: object.into(),
            key: key.into(),
            handler: handler.into(),
        };
        Self::new(target, encode(request))
    }

    /// GETs `url`, whose answer's body is JSON.
    pub fn get(url: impl Into<String>) -> Self {
        let target = Target::Http {
            url: url.into(),
            post: false,
        };
        Self::new(target, Ok(serde_json::Value::Null))
    }

    /// POSTs `request` as JSON to `url`, whose answer's body is JSON.
    pub fn post(url: impl Into<String>, request: &impl Serialize) -> Self {
        let target = Target::Http {
            url: url.into(),
            post: true,
        };
        Self::new(target, encode(request))
    }

    /// Names the call: calls of one stage with the same key are one call,
    /// answered once, for Restate's idempotency retention (a day by
    /// default), whatever batch they come in. Without it, each record's
    /// call is its own: its key is the record's key, how many of the key's
    /// batches called before, the request, and how many calls of its batch
    /// came before with the same key and request. Give a call that has a
    /// side effect the record's own id, so that it is made once per record
    /// even if a batch is cut differently on a retry.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.call.key = Some(key.into());
        self
    }
}

/// A request as JSON, or why it does not encode.
fn encode(request: &impl Serialize) -> Result<serde_json::Value, String> {
    serde_json::to_value(request).map_err(|e| format!("the request does not encode: {e}"))
}

/// What a lookup answered: the answer's JSON, or why it failed after its
/// attempts (the record then goes to the dead-letter output).
pub type Answered = Result<serde_json::Value, String>;

/// A call answered in this process (the reference model's lookups): by
/// `answer`, unless its request did not encode, which fails it uncalled
/// as the key group does.
pub(crate) fn answer_here(call: &Call, answer: impl FnOnce(&Call) -> Answered) -> Answered {
    match &call.body {
        Ok(_) => answer(call),
        Err(reason) => Err(reason.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_is_named_by_its_key_and_request_unless_the_user_names_it() {
        let a: Lookup<u32> = Lookup::service("P", "get", &1u32);
        let b: Lookup<u32> = Lookup::service("P", "get", &2u32);
        assert_eq!(call_id(&a.call, "7", 0), call_id(&a.call, "7", 0));
        assert_ne!(call_id(&a.call, "7", 0), call_id(&b.call, "7", 0));
        assert_ne!(call_id(&a.call, "7", 0), call_id(&a.call, "8", 0));
        // The key's next batch calls afresh.
        assert_ne!(call_id(&a.call, "7", 0), call_id(&a.call, "7", 1));
        let named: Lookup<u32> = Lookup::service("P", "get", &1u32).idempotency_key("r-1");
        assert_eq!(call_id(&named.call, "7", 0), "u:r-1");
    }

    #[test]
    fn a_request_that_does_not_encode_says_why() {
        let mut bad = std::collections::HashMap::new();
        bad.insert((1, 2), 3);
        let lookup: Lookup<u32> = Lookup::service("P", "get", &bad);
        let error = lookup.call.body.unwrap_err();
        assert!(error.contains("does not encode"), "{error}");
    }
}

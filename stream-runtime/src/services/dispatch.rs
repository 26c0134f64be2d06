//! The plumbing every stage service shares: running one handler over the
//! SDK's invocation context, and describing handlers for discovery.

use std::future::Future;

use restate_sdk::discovery::{
    Handler, HandlerName, HandlerType, InputPayload, OutputPayload, Service, ServiceName,
    ServiceType,
};
use restate_sdk::endpoint::{ContextInternal, Error, InputMetadata};
use restate_sdk::errors::HandlerResult;
use restate_sdk::serde as wire;

/// Reads the invocation's input, runs `handler` on it with a context of
/// type `C`, and writes its result: what the SDK's macros generate per handler.
pub(crate) async fn run<'a, C, I, O, F, Fut>(
    ctx: &'a ContextInternal,
    handler: F,
) -> Result<(), Error>
where
    C: From<(&'a ContextInternal, InputMetadata)>,
    I: wire::Deserialize,
    O: wire::Serialize,
    F: FnOnce(C, I) -> Fut,
    Fut: Future<Output = HandlerResult<O>>,
{
    let (input, metadata) = ctx.input::<I>().await;
    let result = handler((ctx, metadata).into(), input).await;
    ctx.handle_handler_result(result);
    ctx.end();
    Ok(())
}

/// The answer to a handler name this service does not have.
pub(crate) fn unknown(ctx: &ContextInternal) -> Result<(), Error> {
    Err(Error::unknown_handler(
        ctx.service_name(),
        ctx.handler_name(),
    ))
}

/// How a handler appears in the discovery manifest.
#[derive(Clone, Copy)]
pub(crate) struct HandlerSpec {
    pub name: &'static str,
    pub shared: bool,
    pub private: bool,
    pub lazy_state: bool,
    pub input: Payload,
}

/// What a handler takes as input.
#[derive(Clone, Copy)]
pub(crate) enum Payload {
    /// A JSON body, required.
    Json,
    /// Any body or none (the handler parses and validates it).
    Any,
    /// No body.
    Empty,
}

impl HandlerSpec {
    pub const fn exclusive(name: &'static str) -> Self {
        Self {
            name,
            shared: false,
            private: true,
            lazy_state: false,
            input: Payload::Json,
        }
    }

    pub const fn shared(name: &'static str) -> Self {
        Self {
            shared: true,
            input: Payload::Empty,
            ..Self::exclusive(name)
        }
    }

    pub const fn public(mut self) -> Self {
        self.private = false;
        self
    }

    pub const fn lazy_state(mut self) -> Self {
        self.lazy_state = true;
        self
    }

    pub const fn input(mut self, input: Payload) -> Self {
        self.input = input;
        self
    }

    fn to_discovery(self, service_ty: ServiceType) -> Handler {
        let input = match self.input {
            Payload::Json => InputPayload {
                content_type: Some("application/json".to_owned()),
                json_schema: None,
                required: Some(true),
            },
            Payload::Any => InputPayload {
                content_type: Some("*/*".to_owned()),
                json_schema: None,
                required: Some(false),
            },
            Payload::Empty => InputPayload::empty(),
        };
        let ty = match (service_ty, self.shared) {
            (ServiceType::VirtualObject, true) => Some(HandlerType::Shared),
            (ServiceType::VirtualObject, false) => Some(HandlerType::Exclusive),
            _ => None,
        };
        Handler {
            name: HandlerName::try_from(self.name.to_owned()).expect("handler names are constants"),
            input: Some(input),
            output: Some(OutputPayload {
                content_type: Some("application/json".to_owned()),
                json_schema: None,
                set_content_type_if_empty: Some(false),
            }),
            ty,
            documentation: None,
            metadata: Default::default(),
            abort_timeout: None,
            inactivity_timeout: None,
            journal_retention: None,
            idempotency_retention: None,
            workflow_completion_retention: None,
            enable_lazy_state: self.lazy_state.then_some(true),
            ingress_private: self.private.then_some(true),
            retry_policy_initial_interval: None,
            retry_policy_max_interval: None,
            retry_policy_max_attempts: None,
            retry_policy_exponentiation_factor: None,
            retry_policy_on_max_attempts: None,
        }
    }
}

/// A service's discovery manifest; fails on a name Restate does not accept.
pub(crate) fn manifest(
    name: &str,
    ty: ServiceType,
    handlers: &[HandlerSpec],
) -> Result<Service, String> {
    Ok(Service {
        ty,
        name: ServiceName::try_from(name.to_owned()).map_err(|e| e.to_string())?,
        handlers: handlers.iter().map(|h| h.to_discovery(ty)).collect(),
        documentation: None,
        metadata: Default::default(),
        abort_timeout: None,
        inactivity_timeout: None,
        journal_retention: None,
        idempotency_retention: None,
        enable_lazy_state: None,
        ingress_private: None,
        retry_policy_initial_interval: None,
        retry_policy_max_interval: None,
        retry_policy_max_attempts: None,
        retry_policy_exponentiation_factor: None,
        retry_policy_on_max_attempts: None,
    })
}

/// The number in a Virtual Object's key (a split, group or partition index),
/// checked against the number that exist.
pub(crate) fn index_key(
    key: &str,
    what: &str,
    count: u32,
) -> Result<u32, restate_sdk::errors::TerminalError> {
    key.parse::<u32>()
        .ok()
        .filter(|index| *index < count)
        .ok_or_else(|| {
            restate_sdk::errors::TerminalError::new_with_code(
                400,
                format!(
                    "`{key}` is not a {what}: expected a number from 0 to {}",
                    count.saturating_sub(1)
                ),
            )
        })
}

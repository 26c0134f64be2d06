//! Serving a service from its declared handlers: one generic SDK `Service`
//! impl decodes each invocation's input, runs the handler the name picks,
//! and encodes its output, and the discovery manifest comes from the same
//! list.

use std::future::Future;

use bytes::Bytes;
use restate_sdk::discovery::{self, HandlerName, InputPayload, OutputPayload, ServiceName};
use restate_sdk::endpoint::{ContextInternal, Error};
use restate_sdk::errors::{HandlerResult, TerminalError};
use restate_sdk::service::macro_support::{service_definition, ServiceBoxFuture};
use restate_sdk::service::ServiceDefinition;

use super::calls::RestateCalls;
use super::{PipelineService, ServiceHandlers};
use crate::protocol::{Access, Handler, Message, Payload};

/// A service that serves handler `H`: the handler's own code, which gets
/// the decoded input and returns the output to encode.
///
/// `calls` reaches the pipeline's other services through the same
/// invocation (see [`Calls`](crate::protocol::Calls)).
pub(crate) trait Serves<'a, H: Handler>: Send + Sync {
    fn serve(
        &'a self,
        ctx: <H::Access as Access>::Context<'a>,
        calls: RestateCalls<'a>,
        input: H::Input,
    ) -> impl Future<Output = HandlerResult<H::Output>> + Send;
}

/// A tuple of handlers that service `K` of pipeline `D` serves.
pub(crate) trait HandlerList<K, D> {
    /// How discovery describes them.
    fn manifest() -> Result<Vec<discovery::Handler>, DefinitionError>;
    /// Runs the invocation's handler, or answers that there is none.
    fn dispatch<'a>(
        service: &'a PipelineService<K, D>,
        ctx: &'a ContextInternal,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>>;
}

macro_rules! handler_list {
    ($($h:ident),+) => {
        impl<K, D, $($h),+> HandlerList<K, D> for ($($h,)+)
        where
            $($h: Handler,)+
            PipelineService<K, D>: $(for<'s> Serves<'s, $h> +)+ Sync,
        {
            fn manifest() -> Result<Vec<discovery::Handler>, DefinitionError> {
                Ok(vec![$(describe::<$h>()?),+])
            }

            fn dispatch<'a>(
                service: &'a PipelineService<K, D>,
                ctx: &'a ContextInternal,
            ) -> std::pin::Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>> {
                let name = ctx.handler_name();
                $(if name == $h::NAME {
                    return Box::pin(run::<$h, K, D>(service, ctx));
                })+
                let unknown = Error::unknown_handler(ctx.service_name(), name);
                Box::pin(std::future::ready(Err(unknown)))
            }
        }
    };
}

handler_list!(H1);
handler_list!(H1, H2);
handler_list!(H1, H2, H3);
handler_list!(H1, H2, H3, H4);
handler_list!(H1, H2, H3, H4, H5);
handler_list!(H1, H2, H3, H4, H5, H6);
handler_list!(H1, H2, H3, H4, H5, H6, H7);
handler_list!(H1, H2, H3, H4, H5, H6, H7, H8);
handler_list!(H1, H2, H3, H4, H5, H6, H7, H8, H9);

/// One invocation of `H`: decode, serve, encode.
async fn run<H, K, D>(service: &PipelineService<K, D>, ctx: &ContextInternal) -> Result<(), Error>
where
    H: Handler,
    PipelineService<K, D>: for<'s> Serves<'s, H>,
{
    let (bytes, metadata) = ctx.input::<Bytes>().await;
    let result = match H::Input::decode(&bytes) {
        Ok(input) => {
            let calls = RestateCalls::new(ctx, &service.names);
            service.serve((ctx, metadata).into(), calls, input).await
        }
        Err(reason) => Err(TerminalError::new_with_code(
            400,
            format!("{}: cannot decode the input: {reason}", H::NAME),
        )
        .into()),
    };
    // Encoded here: a failure is a terminal error the caller sees, where
    // inside the SDK it would be retried forever.
    let encoded = result.and_then(|output| {
        output.into_bytes().map(Bytes::from).map_err(|reason| {
            TerminalError::new(format!("{}: cannot encode the output: {reason}", H::NAME)).into()
        })
    });
    ctx.handle_handler_result(encoded);
    ctx.end();
    Ok(())
}

/// The SDK service that serves service `K` of pipeline `D`.
struct Served<K, D>(PipelineService<K, D>);

impl<K: ServiceHandlers<D>, D: Send + Sync + 'static> restate_sdk::service::Service
    for Served<K, D>
{
    type Future = ServiceBoxFuture;

    fn handle(&self, ctx: ContextInternal) -> Self::Future {
        let service = self.0.clone();
        Box::pin(async move { K::Handlers::dispatch(&service, &ctx).await })
    }
}

/// A name Restate does not accept for a service or a handler.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Restate does not accept `{name}` as a {what} name: {reason}")]
pub struct DefinitionError {
    /// The name.
    pub name: String,
    /// `"service"` or `"handler"`.
    pub what: &'static str,
    /// What Restate's SDK said.
    pub reason: String,
}

/// Service `K` of pipeline `D` as a service definition to bind to an
/// endpoint; fails on a name Restate does not accept.
pub(crate) fn definition<K: ServiceHandlers<D>, D: Send + Sync + 'static>(
    service: PipelineService<K, D>,
) -> Result<ServiceDefinition, DefinitionError> {
    let name = K::name(&service.names).to_owned();
    let manifest = discovery::Service {
        ty: K::TYPE,
        name: ServiceName::try_from(name.clone()).map_err(|e| DefinitionError {
            name,
            what: "service",
            reason: e.to_string(),
        })?,
        handlers: K::Handlers::manifest()?,
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
    };
    Ok(service_definition(Served(service), manifest))
}

/// How discovery describes handler `H`.
fn describe<H: Handler>() -> Result<discovery::Handler, DefinitionError> {
    let input = match <H::Input as Message>::PAYLOAD {
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
    Ok(discovery::Handler {
        name: HandlerName::try_from(H::NAME.to_owned()).map_err(|e| DefinitionError {
            name: H::NAME.to_owned(),
            what: "handler",
            reason: e.to_string(),
        })?,
        input: Some(input),
        output: Some(OutputPayload {
            content_type: Some("application/json".to_owned()),
            json_schema: None,
            set_content_type_if_empty: Some(false),
        }),
        ty: <H::Access as Access>::TYPE,
        documentation: None,
        metadata: Default::default(),
        abort_timeout: None,
        inactivity_timeout: None,
        journal_retention: None,
        idempotency_retention: None,
        workflow_completion_retention: None,
        enable_lazy_state: H::LAZY_STATE.then_some(true),
        ingress_private: (!H::PUBLIC).then_some(true),
        retry_policy_initial_interval: None,
        retry_policy_max_interval: None,
        retry_policy_max_attempts: None,
        retry_policy_exponentiation_factor: None,
        retry_policy_on_max_attempts: None,
    })
}

/// The number in a Virtual Object's key (a split, group or partition index),
/// checked against the number that exist.
pub(crate) fn index_key(key: &str, what: &str, count: u32) -> Result<u32, TerminalError> {
    key.parse::<u32>()
        .ok()
        .filter(|index| *index < count)
        .ok_or_else(|| {
            TerminalError::new_with_code(
                400,
                format!(
                    "`{key}` is not a {what}: expected a number from 0 to {}",
                    count.saturating_sub(1)
                ),
            )
        })
}

//! [`Calls`] over the SDK's context: each call a journaled invocation.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use restate_sdk::endpoint::ContextInternal;
use restate_sdk::errors::TerminalError;

use crate::names::ServiceNames;
use crate::protocol::{
    encode_input, Calls, EncodeError, Handler, KeyOf, Message, ObjectKey, ServiceKind,
};

/// The calls of one invocation, addressed by the pipeline's service names.
#[derive(Clone, Copy)]
pub(crate) struct RestateCalls<'c> {
    ctx: &'c ContextInternal,
    names: &'c ServiceNames,
}

impl<'c> RestateCalls<'c> {
    pub(crate) fn new(ctx: &'c ContextInternal, names: &'c ServiceNames) -> Self {
        Self { ctx, names }
    }

    /// The same invocation's calls, addressed by `names` (another keyed
    /// stage's view of the pipeline, see [`ServiceNames::at_level`]).
    pub(crate) fn with_names<'n>(&self, names: &'n ServiceNames) -> RestateCalls<'n>
    where
        'c: 'n,
    {
        RestateCalls {
            ctx: self.ctx,
            names,
        }
    }

    /// The target and the encoded input of a call to `H`.
    fn prepare<H: Handler>(
        &self,
        key: KeyOf<H>,
        input: &H::Input,
    ) -> Result<(restate_sdk::context::RequestTarget, Bytes), EncodeError> {
        let body = encode_input::<H>(input)?;
        let service = <H::Service as ServiceKind>::name(self.names);
        Ok((key.target(service, H::NAME), Bytes::from(body)))
    }
}

impl<'c> Calls for RestateCalls<'c> {
    fn call<'s, H: Handler>(
        &'s self,
        key: KeyOf<H>,
        input: &H::Input,
    ) -> Result<
        impl Future<Output = Result<H::Output, TerminalError>> + Send + use<'s, 'c, H>,
        EncodeError,
    > {
        let (target, body) = self.prepare::<H>(key, input)?;
        // Issued here; the returned future only waits and decodes.
        let pending = self
            .ctx
            .call::<Bytes, Bytes>(target, None, None, None, Vec::new(), body);
        Ok(async move {
            let bytes = pending.await?;
            H::Output::decode(&bytes).map_err(|reason| {
                TerminalError::new(format!("{}: cannot decode the output: {reason}", H::NAME))
            })
        })
    }

    fn send<H: Handler>(&self, key: KeyOf<H>, input: &H::Input) -> Result<(), EncodeError> {
        let (target, body) = self.prepare::<H>(key, input)?;
        let _ = self
            .ctx
            .send::<Bytes>(target, None, None, None, Vec::new(), body, None);
        Ok(())
    }

    fn send_after<H: Handler>(
        &self,
        key: KeyOf<H>,
        input: &H::Input,
        delay: Duration,
    ) -> Result<(), EncodeError> {
        // The invocation id is not needed: dropping the handle sends anyway.
        drop(self.schedule::<H>(key, input, delay)?);
        Ok(())
    }
}

impl<'c> RestateCalls<'c> {
    /// Sends `H` after `delay`; the future answers the new invocation's id,
    /// which [`cancel`](Self::cancel) takes.
    pub(crate) fn schedule<H: Handler>(
        &self,
        key: KeyOf<H>,
        input: &H::Input,
        delay: Duration,
    ) -> Result<impl Future<Output = Result<String, TerminalError>> + Send + use<H>, EncodeError>
    {
        let (target, body) = self.prepare::<H>(key, input)?;
        let handle =
            self.ctx
                .send::<Bytes>(target, None, None, None, Vec::new(), body, Some(delay));
        Ok(async move { Ok(handle.await?.invocation_id().to_owned()) })
    }

    /// Cancels an invocation this pipeline scheduled.
    pub(crate) fn cancel(&self, invocation_id: &str) {
        self.ctx.cancel_invocation(invocation_id);
    }
}

//! A fake of the [`Calls`] seam: answers calls from a function, and keeps
//! every call and send in order, so a round's decisions can be checked
//! without a server.

use std::future::Future;
use std::sync::Mutex;

use restate_sdk::errors::TerminalError;

use crate::names::ServiceNames;
use crate::protocol::{
    encode_input, Calls, EncodeError, Handler, KeyOf, Message, ObjectKey, ServiceKind,
};

/// What the fake answers to `service/key/handler` with the given body.
type Answer = dyn Fn(&str, &[u8]) -> Result<Vec<u8>, TerminalError> + Send + Sync;

pub(crate) struct FakeCalls {
    names: ServiceNames,
    answer: Box<Answer>,
    /// `call Service/key/handler body` or `send ...`, in order.
    pub log: Mutex<Vec<String>>,
}

impl FakeCalls {
    /// Answers with `answer(address, body)`, where the address is
    /// `TSplit/0/next` for pipeline `T`.
    pub(crate) fn new(
        answer: impl Fn(&str, &[u8]) -> Result<Vec<u8>, TerminalError> + Send + Sync + 'static,
    ) -> Self {
        Self {
            names: ServiceNames::for_pipeline("T"),
            answer: Box::new(answer),
            log: Mutex::new(Vec::new()),
        }
    }

    fn address<H: Handler>(&self, key: &KeyOf<H>) -> String {
        let service = key.service(<H::Service as ServiceKind>::name(&self.names));
        match key.key() {
            Some(key) => format!("{service}/{key}/{}", H::NAME),
            None => format!("{service}/{}", H::NAME),
        }
    }

    fn record(&self, line: String) {
        if let Ok(mut log) = self.log.lock() {
            log.push(line);
        }
    }

    /// The log's lines that start with `prefix`.
    pub(crate) fn lines(&self, prefix: &str) -> Vec<String> {
        let log = self.log.lock().map(|l| l.clone()).unwrap_or_default();
        log.into_iter().filter(|l| l.starts_with(prefix)).collect()
    }
}

impl Calls for FakeCalls {
    fn call<'s, H: Handler>(
        &'s self,
        key: KeyOf<H>,
        input: &H::Input,
    ) -> Result<
        impl Future<Output = Result<H::Output, TerminalError>> + Send + use<'s, H>,
        EncodeError,
    > {
        let body = readable::<H>(encode_input::<H>(input)?);
        let address = self.address::<H>(&key);
        self.record(format!("call {address} {}", String::from_utf8_lossy(&body)));
        let answer = (self.answer)(&address, &body);
        Ok(
            async move { H::Output::decode(&answer?).map_err(|e| TerminalError::new(e.to_string())) },
        )
    }

    fn send<H: Handler>(&self, key: KeyOf<H>, input: &H::Input) -> Result<(), EncodeError> {
        let body = readable::<H>(encode_input::<H>(input)?);
        let address = self.address::<H>(&key);
        self.record(format!("send {address} {}", String::from_utf8_lossy(&body)));
        Ok(())
    }

    fn send_after<H: Handler>(
        &self,
        key: KeyOf<H>,
        input: &H::Input,
        delay: std::time::Duration,
    ) -> Result<(), EncodeError> {
        let body = readable::<H>(encode_input::<H>(input)?);
        let address = self.address::<H>(&key);
        let body = String::from_utf8_lossy(&body);
        self.record(format!(
            "send {address} {body} after {}ms",
            delay.as_millis()
        ));
        Ok(())
    }
}

/// A body as JSON, for the log and the answers to read: one sent binary is
/// decoded as the handler would and written again as JSON (a body that
/// does not decode is kept as it is, for the test to see).
fn readable<H: Handler>(body: Vec<u8>) -> Vec<u8> {
    match H::Input::decode(&body).and_then(|input| input.as_json()) {
        Ok(json) => json,
        Err(_) => body,
    }
}

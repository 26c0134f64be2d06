//! Talking to a Restate server: its admin API and its ingress. (Starting a
//! local one for development is the `stream-runner` crate's.)

mod admin;
pub(crate) mod http;
mod ingress;
mod stalls;

pub use admin::{AdminClient, AdminError};
pub use http::{ApiError, HttpError};
pub use ingress::{CallError, IngressClient};
pub use stalls::Stalled;

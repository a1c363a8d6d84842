//! Elevation: a responder of an open incident asks for a role from the catalogue and gets a
//! binding, a scoped AWS IAM role that trusts only them and lapses at its expiry.
//!
//! - [`policy`]: the pure decision (incident open, requester on call, role conditions, duration,
//!   reason, per-person cap);
//! - [`service`]: the service's state and errors; its work is in `request.rs` (request and
//!   decision), `grant.rs` (the IAM grant and the grant/resolve race), `approve.rs` (peer
//!   approval) and `access.rs` (read and revoke);
//! - [`events`]: the audit events elevation writes.
//!
//! Bindings themselves, their life cycle and their storage are [`crate::bindings`]'; ending them
//! is [`crate::revocation`]'s.

mod access;
mod approve;
pub mod events;
mod grant;
pub mod policy;
mod request;
pub mod service;

pub use service::{Elevation, ElevationError, ElevationRequest, Requested};

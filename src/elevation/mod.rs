//! Elevation: a responder of an open incident asks for a role from the catalogue and gets a
//! binding, a scoped AWS IAM role that trusts only them and lapses at its expiry.
//!
//! - [`model`]: bindings and their life cycle;
//! - [`policy`]: the pure decision (incident open, requester on call, role conditions, duration,
//!   reason, per-person cap);
//! - [`store`]: bindings in Redis, written atomically with the incident checks;
//! - [`service`]: request, approve, read and revoke, and the grant/resolve race;
//! - [`scheduler`]: expiries, approval deadlines and revocations, from a schedule kept in Redis.

pub mod model;
pub mod policy;
pub mod scheduler;
pub mod service;
pub mod store;

pub use model::{Approval, Binding, BindingId, BindingStatus, EndReason};
pub use service::{Elevation, ElevationError, ElevationRequest, Requested};

//! Bindings: one person's grant of one role on one incident, from request to revocation. The
//! home both sides of a binding's life share: elevation creates and approves bindings,
//! revocation ends them, and neither reaches into the other.
//!
//! - [`model`]: the binding record, its id, status and end reason;
//! - [`lifecycle`]: the one table of which trigger moves a binding from which status to which;
//!   every status change, in Rust or in a Lua script, comes from it;
//! - [`store`]: bindings in Redis, written atomically with the incident checks; their schedule
//!   (`schedule.rs`) and the compare-and-set that ends them (`settle.rs`);
//! - [`events`]: the audit events a binding's life writes.

pub mod events;
pub mod lifecycle;
pub mod model;
mod schedule;
mod settle;
pub mod store;

pub use model::{Approval, Binding, BindingId, BindingStatus, EndReason, InvalidBindingId};
pub use settle::{BindingError, Ending, Evidence, MAX_ATTEMPTS};
pub use store::BindingStore;

//! Incidents: the normalized model, the pure state machine that folds events into it, and its
//! storage in Redis.

pub mod events;
mod model;
pub mod state;
pub mod store;

pub use model::*;
pub use store::{ApplyOutcome, IncidentStore, Listing};

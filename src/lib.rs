//! breakglass: incident-driven break-glass access.
//!
//! Incident tools push signed webhooks ([`webhooks`]) that keep incident state in Redis
//! ([`incidents`]); responders of open incidents get scoped, self-expiring AWS roles; every step
//! lands in an audit trail ([`audit`]). [`App`] wires the parts together for `main` and the tests.
#![forbid(unsafe_code)]

mod app;
pub mod audit;
pub mod auth;
pub mod bindings;
pub mod config;
pub mod directory;
pub mod elevation;
pub mod grants;
pub mod http;
pub mod incidents;
pub mod keyspace;
pub mod metrics;
pub mod ops;
pub mod review;
pub mod revocation;
pub mod secret;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod webhooks;

pub use app::{App, ShutdownHandle};
pub use config::Config;
pub use http::AppState;

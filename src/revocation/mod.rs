//! Revocation: making sure no role outlives its binding. The heart of the product.
//!
//! - [`worker`]: every replica polls the shards' schedules, leases due bindings and works them:
//!   approval deadlines, expiries, revocations (queue claim, lease, retries with backoff);
//! - [`revoker`]: the revocation steps for one binding, through
//!   [`crate::grants::Grants::revoke`] (a session-ending deny first, then the policies and the
//!   role), and the handle elevation uses to ask for a revocation;
//! - [`reconciler`]: what catches everything those can miss. IAM is the truth of what exists,
//!   Redis of what should. Every `[revocation] reconcile_interval` and at start-up it lists the
//!   roles under `[aws] role_path`, removes those with no live binding or a passed expiry, and
//!   puts bindings stuck in `revoking` back in the schedule; [`verdict`] is its pure decision.
//!
//! The reconciler treats every role under the path as its own: two deployments (or two Redis
//! prefixes) must never share one `role_path`, or each removes the other's roles.
//!
//! Keys (owned here):
//! - `<prefix>:reconciler:lock`: STRING, the random id of the replica whose reconciler runs,
//!   PX `reconcile_interval`, refreshed by that replica at each of its passes. Keeps several
//!   replicas to one pass per interval; when the holder dies it lapses and another takes over.
//!   No hash tag: it is touched alone.
//!
//! The bindings and their schedule are [`crate::bindings`]'.

pub mod events;
pub mod reconciler;
pub mod revoker;
mod verdict;
pub mod worker;

pub use reconciler::{reconcile_once, Reconciler, Report};
pub use revoker::Revoker;
pub use verdict::{binding_of, judge, RemoveReason, Verdict};

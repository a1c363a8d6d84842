//! Revocation: making sure no role outlives its binding.
//!
//! Bindings are revoked by the elevation scheduler ([`crate::elevation::scheduler`]) when they
//! come due in their shard's schedule, through [`crate::grants::Grants::revoke`] (a session-ending
//! deny first, then the policies and the role). This module holds what catches everything that
//! path can miss, the [`reconciler`]: IAM is the truth of what exists, Redis of what should.
//! Every `[revocation] reconcile_interval` and at start-up it lists the roles under
//! `[aws] role_path`, removes those with no live binding or a passed expiry, and puts bindings
//! stuck in `revoking` back in the schedule.
//!
//! The reconciler treats every role under the path as its own: two deployments (or two Redis
//! prefixes) must never share one `role_path`, or each removes the other's roles.
//!
//! Keys (owned here):
//! - `<prefix>:reconciler:lock`: STRING, the random id of the replica whose reconciler runs,
//!   PX `reconcile_interval`, refreshed by that replica at each of its passes. Keeps several
//!   replicas to one pass per interval; when the holder dies it lapses and another takes over.
//!   No hash tag: it is touched alone.

pub mod reconciler;
mod verdict;

pub use reconciler::{reconcile_once, Reconciler, Report};
pub use verdict::{binding_of, judge, RemoveReason, Verdict};

//! Integration tests: the real app over HTTP, against real redis-server processes started by the
//! harness on free ports. One test binary, so the crate links once.

#[allow(dead_code)] // each test module uses its own part of the harness
mod harness;
mod ministack;
mod moto;
mod redis_cluster;
mod redis_sentinel;

mod accounts;
mod accounts_faults;
mod api_audit;
mod api_incidents;
mod api_oidc;
mod architecture;
mod audit_archive;
mod audit_chain;
mod authz_matrix;
mod bindings_lua;
mod cli;
mod config_startup;
mod credentials_process;
mod elevation;
mod elevation_race;
mod elevation_support;
mod failover;
mod fuzz_webhooks;
mod graceful_shutdown;
mod grants_iam;
mod grants_revoke;
mod iam_faults;
mod identity_center;
mod live_sessions;
mod process;
mod reconciler;
mod redis_tls;
mod review;
mod revocation_durability;
mod revoke_on_unassign;
mod secret_leak;
mod token_sources;
mod webhooks_common;
mod webhooks_grafana_incident;
mod webhooks_grafana_oncall;
mod webhooks_opsgenie;
mod webhooks_pagerduty;

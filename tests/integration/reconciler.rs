//! The reconciler end to end: the real app with its background reconciler every second, a real
//! Redis and moto's IAM. IAM is the truth of what exists, Redis of what should: whatever under
//! `/breakglass/` has no live binding, or is past its expiry, is removed; nothing else is touched.
//! Each test ends with the invariant read back from IAM: no role under the path belongs to a
//! resolved (or unknown) incident or is past its expiry.

use std::time::{Duration, Instant};

use aws_sdk_iam::types::Tag;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::elevation_support::*;
use crate::harness::*;

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;
const WAIT: Duration = Duration::from_secs(15);
const LOCK: &str = "bgtest:reconciler:lock";

async fn start() -> Elev {
    Elev::start_with_revocation("", "", r#"reconcile_interval = "1s""#).await
}

/// Wait until a counter reaches `at_least`: a pass counts what it did when it ends, a moment
/// after IAM shows its work.
async fn until_counter(e: &Elev, name: &str, at_least: u64) {
    let started = Instant::now();
    loop {
        let n = e.app.metric(name).await;
        if n >= at_least {
            return;
        }
        assert!(started.elapsed() < WAIT, "{name} is {n}, not {at_least}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Wait for two more reconciler passes: at least one of them began after this call.
async fn two_more_passes(e: &Elev) {
    let target = e.app.metric("breakglass_reconciler_runs_total").await + 2;
    let started = Instant::now();
    while e.app.metric("breakglass_reconciler_runs_total").await < target {
        assert!(started.elapsed() < WAIT, "the reconciler stopped passing");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Hold the reconciler lock as another replica would, so this app's reconciler skips its passes
/// while a scene is set up; [`resume`] lets it go.
async fn pause(e: &Elev) {
    let _: () = redis::cmd("SET")
        .arg(LOCK)
        .arg("another-replica")
        .arg("PX")
        .arg(60_000)
        .query(&mut e.app.redis.conn())
        .unwrap();
    // Let a pass that took the lock just before finish (over an empty IAM it takes milliseconds).
    tokio::time::sleep(Duration::from_millis(500)).await;
}

fn resume(e: &Elev) {
    let _: () = redis::cmd("DEL")
        .arg(LOCK)
        .query(&mut e.app.redis.conn())
        .unwrap();
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build().unwrap()
}

/// A role made straight in IAM, as an operator (or an attacker) might.
async fn make_role(e: &Elev, path: &str, name: &str, tags: Vec<Tag>) {
    e.moto
        .client()
        .create_role()
        .path(path)
        .role_name(name)
        .assume_role_policy_document(TRUST)
        .set_tags(Some(tags))
        .send()
        .await
        .unwrap_or_else(|err| panic!("CreateRole {path}{name}: {err:?}"));
}

async fn role_exists(e: &Elev, name: &str) -> bool {
    match e.moto.client().get_role().role_name(name).send().await {
        Ok(_) => true,
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|s| s.is_no_such_entity_exception()) =>
        {
            false
        }
        Err(err) => panic!("GetRole {name}: {err:?}"),
    }
}

async fn elevate_alice(e: &Elev) -> String {
    let (status, b) = e
        .elevate_role(ALICE_TOKEN, "prod-db-read", json!("1h"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    b["id"].as_str().unwrap().to_string()
}

/// `<prefix>:{<shard>}:<rest>` for a binding id (its first character is its shard, in hex).
fn shard_key(id: &str, rest: &str) -> String {
    let shard = u16::from_str_radix(&id[..1], 16).unwrap();
    format!("bgtest:{{{shard}}}:{rest}")
}

/// The invariant: every role left under the path belongs to an incident breakglass knows and
/// that is not resolved, and its expiry tag is readable and ahead.
async fn assert_no_role_outlives_its_incident_or_expiry(e: &Elev) {
    for (role, incident) in e.moto.roles_left_by_incident().await {
        let (status, body) = e
            .app
            .get(&format!("/v1/incidents/{incident}"), ADMIN_TOKEN)
            .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{role}: unknown incident {incident}: {body}"
        );
        assert_ne!(body["status"], "resolved", "{role}: incident resolved");
    }
}

#[tokio::test]
async fn roles_made_behind_the_services_back_under_the_path_are_removed() {
    let e = start().await;
    pause(&e).await;
    let future = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    make_role(&e, "/breakglass/", "hand-made", vec![]).await;
    make_role(&e, "/breakglass/", "breakglass-3aaaaaaaaaaaaaaa", vec![]).await;
    // Every tag a grant sets, but no binding in Redis.
    let forged = vec![
        tag("breakglass:binding", "4aaaaaaaaaaaaaaa"),
        tag("breakglass:incident", INCIDENT),
        tag("breakglass:subject", "mallory@example.com"),
        tag("breakglass:expires-at", &future),
    ];
    make_role(&e, "/breakglass/", "breakglass-4aaaaaaaaaaaaaaa", forged).await;
    // With permissions on, which must come off before the role can go.
    e.moto
        .client()
        .put_role_policy()
        .role_name("breakglass-4aaaaaaaaaaaaaaa")
        .policy_name("admin")
        .policy_document(READ_POLICY)
        .send()
        .await
        .unwrap();
    let managed = e
        .moto
        .client()
        .create_policy()
        .policy_name("read-everything")
        .policy_document(READ_POLICY)
        .send()
        .await
        .unwrap();
    e.moto
        .client()
        .attach_role_policy()
        .role_name("hand-made")
        .policy_arn(managed.policy().unwrap().arn().unwrap())
        .send()
        .await
        .unwrap();
    resume(&e);

    e.until_no_roles(WAIT).await;

    until_counter(&e, "breakglass_reconciler_roles_removed_total", 3).await;
    // Each removal is evidence too.
    let removed: Vec<_> = e
        .app
        .audit_entries()
        .into_iter()
        .filter(|(t, _, _)| t == "reconciler.role_removed")
        .collect();
    assert!(removed.len() >= 3, "{removed:?}");
    assert_no_role_outlives_its_incident_or_expiry(&e).await;
}

#[tokio::test]
async fn roles_whose_redis_records_were_wiped_are_removed() {
    let e = start().await;
    e.open_incident().await;
    elevate_alice(&e).await;
    let (status, b) = e
        .elevate_role(ALICE_TOKEN, "prod-admin", json!("10m"))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{b}");
    e.add_bob().await;
    let approve = format!("/v1/elevations/{}/approve", b["id"].as_str().unwrap());
    assert_eq!(
        e.call(Method::POST, &approve, BOB_TOKEN).await.0,
        StatusCode::OK
    );
    assert_eq!(e.roles_in_iam().await.len(), 2);

    let _: () = redis::cmd("FLUSHALL")
        .query(&mut e.app.redis.conn())
        .unwrap();

    e.until_no_roles(WAIT).await;
    assert_no_role_outlives_its_incident_or_expiry(&e).await;
}

#[tokio::test]
async fn a_role_whose_expiry_tag_has_passed_is_removed() {
    let e = start().await;
    e.open_incident().await;
    let id = elevate_alice(&e).await;
    let role = format!("breakglass-{id}");
    let past = (chrono::Utc::now() - chrono::Duration::seconds(5)).to_rfc3339();
    e.moto
        .client()
        .tag_role()
        .role_name(&role)
        .tags(tag("breakglass:expires-at", &past))
        .send()
        .await
        .unwrap();

    e.until_no_roles(WAIT).await;
    assert_no_role_outlives_its_incident_or_expiry(&e).await;
}

#[tokio::test]
async fn an_active_bindings_role_is_kept() {
    let e = start().await;
    e.open_incident().await;
    let id = elevate_alice(&e).await;

    two_more_passes(&e).await;

    assert!(role_exists(&e, &format!("breakglass-{id}")).await);
    let (_, read) = e
        .call(Method::GET, &format!("/v1/elevations/{id}"), ALICE_TOKEN)
        .await;
    assert_eq!(read["status"], "active");
    assert_eq!(
        e.app
            .metric("breakglass_reconciler_roles_removed_total")
            .await,
        0
    );
    assert_no_role_outlives_its_incident_or_expiry(&e).await;
}

#[tokio::test]
async fn a_role_whose_grant_is_still_in_flight_is_kept() {
    let e = start().await;
    e.open_incident().await;
    let id = elevate_alice(&e).await;
    // As the binding stands while its granter is still between CreateRole and the final write.
    let _: () = redis::cmd("HSET")
        .arg(shard_key(&id, &format!("binding:{id}")))
        .arg("status")
        .arg("granting")
        .query(&mut e.app.redis.conn())
        .unwrap();

    two_more_passes(&e).await;

    assert!(role_exists(&e, &format!("breakglass-{id}")).await);
    assert_no_role_outlives_its_incident_or_expiry(&e).await;
}

#[tokio::test]
async fn while_another_replica_holds_the_lock_this_one_skips_its_passes() {
    let e = start().await;
    pause(&e).await;
    let runs = e.app.metric("breakglass_reconciler_runs_total").await;
    make_role(&e, "/breakglass/", "stray", vec![]).await;

    tokio::time::sleep(Duration::from_millis(2500)).await;

    assert_eq!(e.app.metric("breakglass_reconciler_runs_total").await, runs);
    assert!(role_exists(&e, "stray").await);
    // The holder is gone (its lock lapses, here at once): this replica takes over.
    resume(&e);
    e.until_no_roles(WAIT).await;
    assert_no_role_outlives_its_incident_or_expiry(&e).await;
}

#[tokio::test]
async fn roles_outside_the_path_are_untouched() {
    let e = start().await;
    make_role(&e, "/", "breakglass-5aaaaaaaaaaaaaaa", vec![]).await;
    make_role(
        &e,
        "/breakglass-staging/",
        "breakglass-6aaaaaaaaaaaaaaa",
        vec![],
    )
    .await;
    make_role(&e, "/team/breakglass/", "app-role", vec![]).await;
    // One inside, to see the reconciler at work on this IAM.
    make_role(&e, "/breakglass/", "stray", vec![]).await;

    e.until_no_roles(WAIT).await;
    two_more_passes(&e).await;

    for name in [
        "breakglass-5aaaaaaaaaaaaaaa",
        "breakglass-6aaaaaaaaaaaaaaa",
        "app-role",
    ] {
        assert!(role_exists(&e, name).await, "{name} was removed");
    }
    assert_no_role_outlives_its_incident_or_expiry(&e).await;
}

#[tokio::test]
async fn a_binding_stuck_in_revoking_off_the_schedule_is_requeued_and_its_role_removed() {
    let e = start().await;
    e.open_incident().await;
    let id = elevate_alice(&e).await;
    // A revocation whose schedule entry was lost: nothing would ever work it.
    let mut redis = e.app.redis.conn();
    let _: () = redis::cmd("HSET")
        .arg(shard_key(&id, &format!("binding:{id}")))
        .arg("status")
        .arg("revoking")
        .query(&mut redis)
        .unwrap();
    let removed: i64 = redis::cmd("ZREM")
        .arg(shard_key(&id, "schedule"))
        .arg(&id)
        .query(&mut redis)
        .unwrap();
    assert_eq!(removed, 1);

    e.until_no_roles(WAIT).await;

    until_counter(&e, "breakglass_reconciler_requeued_total", 1).await;
    e.until_revoked(&id, WAIT).await;
    assert_no_role_outlives_its_incident_or_expiry(&e).await;
}

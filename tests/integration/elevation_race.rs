//! The grant/resolve race: elevations in flight while the incident resolves never leave a role.

use reqwest::StatusCode;
use serde_json::json;

use crate::elevation_support::*;
use crate::harness::*;

const ROLES: usize = 50;

#[tokio::test]
async fn fifty_elevations_raced_against_a_resolve_never_leave_a_role_behind() {
    let roles: String = (0..ROLES)
        .map(|i| {
            format!(
                "[[roles]]\nname = \"race-{i}\"\nmax_duration = \"1h\"\npolicy = '{READ_POLICY}'\n"
            )
        })
        .collect();
    let e = Elev::start_with(
        "max_active_per_subject = 1000\nrequests_per_minute = 100000",
        &roles,
    )
    .await;
    for round in 0..4 {
        let native = format!("PRACE{round}");
        let trigger = edit(
            &fixture("pagerduty/incident.triggered.json"),
            "PFQZPSY",
            &native,
        );
        assert_eq!(e.app.pagerduty(&trigger).await.0, StatusCode::ACCEPTED);
        let incident = format!("pagerduty:{native}");
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..ROLES {
            let request = e
                .app
                .http
                .post(e.app.url("/v1/elevations"))
                .bearer_auth(ALICE_TOKEN)
                .json(&json!({"incident": incident, "role": format!("race-{i}"), "duration": "1h", "reason": "race"}));
            tasks.spawn(async move { request.send().await.map(|r| r.status()) });
        }
        // Resolve while the grants are in flight.
        tokio::time::sleep(std::time::Duration::from_millis(100 + 120 * round)).await;
        assert_eq!(
            e.app.pagerduty(&resolve_body(&native)).await.0,
            StatusCode::ACCEPTED
        );
        while let Some(done) = tasks.join_next().await {
            let status = done.unwrap().unwrap();
            assert!(
                [
                    StatusCode::CREATED,
                    StatusCode::FORBIDDEN,
                    StatusCode::SERVICE_UNAVAILABLE
                ]
                .contains(&status),
                "unexpected {status}"
            );
        }
        e.until_no_roles(std::time::Duration::from_secs(20)).await;
        // And every binding of the incident ended.
        let view = e.app.incident(&incident).await;
        for b in view["bindings"].as_array().unwrap() {
            assert!(
                ["revoked", "failed", "revoking"].contains(&b["status"].as_str().unwrap()),
                "{b}"
            );
        }
    }
}

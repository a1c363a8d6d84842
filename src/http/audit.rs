//! `GET /v1/audit?since=&until=`: the audit trail of a time range as NDJSON for a SIEM, admins
//! only. Streamed: the body is written as the shards are read, page by page.

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::error::ApiError;
use super::{AppState, Caller};
use crate::audit::export::{Entry, Export, StreamId};

/// Lines gathered into one body chunk at most.
const LINES_PER_CHUNK: usize = 64;

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    since: Option<String>,
    until: Option<String>,
}

fn parse_time(name: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    value
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| {
                    ApiError::invalid(format!(
                        "`{name}` must be an RFC 3339 time such as 2024-01-31T12:00:00Z: {e}"
                    ))
                })
        })
        .transpose()
}

/// The stream-id range `[since ms-0, until ms-max]` of a query.
fn range(query: &AuditQuery) -> Result<(StreamId, StreamId), ApiError> {
    let since = parse_time("since", query.since.as_deref())?.unwrap_or(DateTime::UNIX_EPOCH);
    let until = parse_time("until", query.until.as_deref())?.unwrap_or_else(Utc::now);
    if since > until {
        return Err(ApiError::invalid("`since` is after `until`"));
    }
    let ms = |t: DateTime<Utc>| u64::try_from(t.timestamp_millis()).unwrap_or(0);
    Ok((
        StreamId {
            ms: ms(since),
            seq: 0,
        },
        StreamId {
            ms: ms(until),
            seq: u64::MAX,
        },
    ))
}

fn push_line(buf: &mut Vec<u8>, entry: &Entry) {
    // An Entry holds only strings, numbers and JSON values: serializing cannot fail.
    if serde_json::to_writer(&mut *buf, entry).is_ok() {
        buf.push(b'\n');
    }
}

pub async fn export(
    State(state): State<AppState>,
    Caller(caller): Caller,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    if !caller.admin {
        return Err(ApiError::forbidden(
            "the audit export is for admins; ask a breakglass admin for the export you need",
        ));
    }
    let Query(query) = query.map_err(|e| ApiError::invalid(e.body_text()))?;
    let (start, end) = range(&query)?;
    let mut export = Export::new(state.store.clone(), start, end);
    // The first read fetches a page from every shard: a failure here is still a clean 503.
    let first = export.next().await?;

    // State: the export, the entry read ahead (or the error that ended reading), and whether
    // the body is over.
    let body = futures_util::stream::unfold(
        (export, Ok(first), false),
        |(mut export, mut pending, done): (Export, Result<Option<Entry>, String>, bool)| async move {
            if done {
                return None;
            }
            let mut buf = Vec::new();
            let mut lines = 0;
            loop {
                match pending {
                    Ok(Some(entry)) => {
                        push_line(&mut buf, &entry);
                        lines += 1;
                    }
                    Ok(None) if lines == 0 => return None,
                    Ok(None) => return Some((Ok(Bytes::from(buf)), (export, Ok(None), true))),
                    // Headers are sent: abort the body so the client sees a truncated export
                    // rather than a complete-looking one.
                    Err(e) if lines == 0 => {
                        return Some((Err(std::io::Error::other(e)), (export, Ok(None), true)))
                    }
                    Err(e) => return Some((Ok(Bytes::from(buf)), (export, Err(e), false))),
                }
                pending = export.next().await.map_err(|e| {
                    tracing::error!(error = %e, "audit export failed while streaming");
                    e.to_string()
                });
                if lines >= LINES_PER_CHUNK {
                    return Some((Ok(Bytes::from(buf)), (export, pending, false)));
                }
            }
        },
    );
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(body),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(since: Option<&str>, until: Option<&str>) -> AuditQuery {
        AuditQuery {
            since: since.map(str::to_string),
            until: until.map(str::to_string),
        }
    }

    #[test]
    fn audit_range_from_rfc3339() {
        let (s, e) = range(&q(
            Some("1970-01-01T00:00:01Z"),
            Some("1970-01-01T00:00:02.5+00:00"),
        ))
        .unwrap();
        assert_eq!(s.to_string(), "1000-0");
        assert_eq!(e.to_string(), format!("2500-{}", u64::MAX));
        let (s, _) = range(&q(None, None)).unwrap();
        assert_eq!(s.to_string(), "0-0");
        assert!(range(&q(Some("yesterday"), None)).is_err());
        assert!(range(&q(
            Some("2024-01-02T00:00:00Z"),
            Some("2024-01-01T00:00:00Z")
        ))
        .is_err());
    }
}

//! Reading an incident's audit events from Redis, in the order they were recorded, with their
//! seals: through the incident's index of entry ids, never by scanning a shard's stream.

use crate::audit::export::{self, Entry};
use crate::incidents::IncidentId;
use crate::store::{Store, StoreError};

/// Entries fetched per round trip.
const CHUNK: usize = 500;

/// The incident's events, and how many of the ids it lists are gone from the stream (archived).
pub async fn events(
    store: &Store,
    incident: &IncidentId,
) -> Result<(Vec<Entry>, usize), StoreError> {
    let shard = crate::keyspace::of(&incident.to_string());
    let index = crate::audit::incident_index_key(store, incident);
    let stream = crate::audit::stream_key(store, shard);
    let seal = crate::audit::seal_key(store, shard);
    let mut conn = store.conn();
    let ids: Vec<String> = store
        .run(
            redis::cmd("LRANGE")
                .arg(&index)
                .arg(0)
                .arg(-1)
                .query_async(&mut conn),
        )
        .await?;
    let mut out = Vec::with_capacity(ids.len());
    let mut archived = 0;
    for chunk in ids.chunks(CHUNK) {
        let mut pipe = redis::pipe();
        for id in chunk {
            pipe.cmd("XRANGE").arg(&stream).arg(id).arg(id);
            pipe.cmd("XRANGE").arg(&seal).arg(id).arg(id);
        }
        let replies: Vec<redis::streams::StreamRangeReply> =
            store.run(pipe.query_async(&mut conn)).await?;
        for pair in replies.chunks(2) {
            let Some(item) = pair[0].ids.first() else {
                archived += 1;
                continue;
            };
            let Some(mut entry) = export::entry(shard, &item.id, |f| item.get::<String>(f)) else {
                archived += 1;
                continue;
            };
            entry.hash = pair
                .get(1)
                .and_then(|s| s.ids.first())
                .and_then(|s| s.get::<String>("h"));
            out.push(entry);
        }
    }
    Ok((out, archived))
}

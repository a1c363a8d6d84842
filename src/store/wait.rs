//! Replicated writes: with `redis.wait_replicas`, every atomic step (a script) is followed by
//! `WAIT` on the node that ran it, and counts as done only when enough replicas acknowledged
//! it. A failover to a replica then loses nothing breakglass has answered for.

use redis::aio::ConnectionLike;
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, Value};

use super::Link;

/// A connection to run commands on: the link to Redis, and the replicas each atomic step must
/// reach before it counts as done (`redis.wait_replicas`).
#[derive(Clone)]
pub struct Conn {
    link: Link,
    wait: Option<Wait>,
}

/// `WAIT <replicas> <timeout>` after every script.
#[derive(Clone, Copy, Debug)]
struct Wait {
    replicas: u32,
    timeout_ms: u64,
}

impl Conn {
    /// Waits for `replicas` (none if 0) for as long as one Redis operation may take.
    pub(super) fn new(link: Link, replicas: u32, timeout: std::time::Duration) -> Self {
        let wait = (replicas > 0).then(|| Wait {
            replicas,
            timeout_ms: u64::try_from(timeout.as_millis())
                .unwrap_or(u64::MAX)
                .max(1),
        });
        Self { link, wait }
    }

    pub(super) fn link(&self) -> &Link {
        &self.link
    }
}

/// The first key of an `EVALSHA`/`EVAL`/`FCALL`, if `cmd` is one: the atomic steps are scripts.
pub(super) fn script_key(cmd: &Cmd) -> Option<Option<Vec<u8>>> {
    let mut args = cmd.args_iter().map(|a| match a {
        redis::Arg::Simple(b) => b,
        _ => &[][..],
    });
    let name = args.next()?;
    let scripted = [&b"EVALSHA"[..], b"EVAL", b"FCALL"]
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n));
    if !scripted {
        return None;
    }
    let _body = args.next();
    let keys: usize = std::str::from_utf8(args.next().unwrap_or_default())
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Some(if keys > 0 {
        args.next().map(<[u8]>::to_vec)
    } else {
        None
    })
}

impl Link {
    /// `WAIT` on the node that ran a script whose first key is `key`; an error unless enough
    /// replicas acknowledged everything this connection wrote.
    async fn wait(&mut self, wait: Wait, key: Option<Vec<u8>>) -> RedisResult<()> {
        let mut cmd = redis::cmd("WAIT");
        cmd.arg(wait.replicas).arg(wait.timeout_ms);
        let reply = match (&*self, key) {
            (Link::Cluster(c), Some(key)) => c.on_master_of(&key, cmd).await?,
            _ => self.req_packed_command(&cmd).await?,
        };
        let acknowledged: i64 = redis::from_redis_value(reply)?;
        if acknowledged < i64::from(wait.replicas) {
            return Err(redis::RedisError::from((
                redis::ErrorKind::Client,
                "too few replicas acknowledged the write",
                format!(
                    "{acknowledged} of the {} that redis.wait_replicas asks for",
                    wait.replicas
                ),
            )));
        }
        Ok(())
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match (self.wait, script_key(cmd)) {
            (Some(wait), Some(key)) => Box::pin(async move {
                let value = self.link.req_packed_command(cmd).await?;
                self.link.wait(wait, key).await?;
                Ok(value)
            }),
            _ => self.link.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        self.link.req_packed_commands(pipeline, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.link.get_db()
    }
}

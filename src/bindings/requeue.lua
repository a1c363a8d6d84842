-- Put a binding left `revoking` without a schedule entry back in its shard's schedule, due now.
-- Checked and written in one step, so a binding that finished revoking meanwhile is left alone,
-- and an existing entry (a lease, a backoff) is never moved (ZADD NX).
--
-- KEYS[1] binding hash   KEYS[2] schedule zset   ARGV[1] binding id   ARGV[2] now (ms)
-- ARGV[3] the `revoking` status's name (from the Rust lifecycle)
-- Returns 1 if re-queued, 0 if not stuck.

if redis.call('HGET', KEYS[1], 'status') ~= ARGV[3] then
  return 0
end
return redis.call('ZADD', KEYS[2], 'NX', ARGV[2], ARGV[1])

-- Compare-and-set one binding: write its new state if nobody changed it since it was read,
-- optionally only while its incident is open; move it in the schedule; release the holder key
-- when it ends; append the audit event. All keys share the incident's shard tag.
--
-- KEYS[1] binding hash  KEYS[2] schedule zset  KEYS[3] audit stream  KEYS[4] incident hash
-- KEYS[5] holder key
-- ARGV[1] expected version  ARGV[2] binding JSON  ARGV[3] status  ARGV[4] end reason ('' for none)
-- ARGV[5] schedule: 'set', 'remove' or 'keep'  ARGV[6] due (ms)  ARGV[7] binding id
-- ARGV[8] audit events (JSON array, see audit/append.lua; `[]` for none)
-- ARGV[9] '1' to require the incident open  ARGV[10] '1' to release the holder key
--
-- Returns {'ok'}, {'conflict'} or {'incident_not_open'}.

if (redis.call('HGET', KEYS[1], 'version') or '0') ~= ARGV[1] then
  return {'conflict'}
end
if ARGV[9] == '1' and redis.call('HGET', KEYS[4], 'status') == 'resolved' then
  return {'incident_not_open'}
end

audit_append_all(KEYS[3], ARGV[8])
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'status', ARGV[3], 'end_reason', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'version', 1)
if ARGV[5] == 'set' then
  redis.call('ZADD', KEYS[2], ARGV[6], ARGV[7])
elseif ARGV[5] == 'remove' then
  redis.call('ZREM', KEYS[2], ARGV[7])
end
if ARGV[10] == '1' and redis.call('GET', KEYS[5]) == ARGV[7] then
  redis.call('DEL', KEYS[5])
end
return {'ok'}

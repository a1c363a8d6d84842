-- Record a new binding atomically with the check that its incident is open and unchanged since
-- the decision was made, and that the person holds no live binding of this role on it already.
-- All keys share the incident's shard tag; the holder's existing binding is read by key prefix.
--
-- KEYS[1] incident hash  KEYS[2] incident's bindings set  KEYS[3] holder key
-- KEYS[4] binding hash   KEYS[5] schedule zset            KEYS[6] audit stream
-- ARGV[1] expected incident version  ARGV[2] binding id  ARGV[3] binding JSON  ARGV[4] status
-- ARGV[5] due (ms)  ARGV[6] audit events (JSON array, see audit/append.lua)
-- ARGV[7] binding key prefix (`<prefix>:{<shard>}:binding:`)
-- ARGV[8] JSON {"from": [statuses], ...}: the statuses in which a person holds a binding, the
--         same a revocation moves (`bindings::lifecycle::revocation_json`)
--
-- Returns {'created'}, {'exists', id}, {'incident_not_found'}, {'incident_not_open'} or {'conflict'}.

local status = redis.call('HGET', KEYS[1], 'status')
if not status then
  return {'incident_not_found'}
end
if status == 'resolved' then
  return {'incident_not_open'}
end
if (redis.call('HGET', KEYS[1], 'version') or '0') ~= ARGV[1] then
  return {'conflict'}
end

local existing = redis.call('GET', KEYS[3])
if existing then
  local held = redis.call('HGET', ARGV[7] .. existing, 'status')
  for _, st in ipairs(cjson.decode(ARGV[8]).from) do
    if held == st then
      return {'exists', existing}
    end
  end
end

audit_append_all(KEYS[6], ARGV[6])
redis.call('HSET', KEYS[4], 'state', ARGV[3], 'status', ARGV[4], 'end_reason', '', 'version', 1)
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('SET', KEYS[3], ARGV[2])
redis.call('ZADD', KEYS[5], ARGV[5], ARGV[2])
return {'created'}

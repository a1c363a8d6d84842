-- Apply one incident event atomically: de-duplicate, compare-and-set the incident, index it,
-- remember the delivery, and append the audit event. All keys share the incident's shard tag.
--
-- KEYS[1] incident hash   KEYS[2] open index (zset)   KEYS[3] all index (zset)
-- KEYS[4] audit stream    KEYS[5] the incident's bindings (set)   KEYS[6] schedule (zset)
-- KEYS[7..] delivery (dedupe) keys
-- ARGV[1] expected version ("0" for a new incident)   ARGV[2] new state JSON
-- ARGV[3] new status      ARGV[4] incident id          ARGV[5] opened_at score (ms)
-- ARGV[6] dedupe TTL (s)  ARGV[7] the event's audit events (JSON array, see audit/append.lua)
-- ARGV[8] audit time (RFC 3339)   ARGV[9] JSON [actor, source] of the webhook
-- ARGV[10] binding key prefix (`<prefix>:{<shard>}:binding:`)
-- ARGV[11] now (ms)        ARGV[12] JSON array of lowercased emails whose bindings end with this
--                           event (`[revocation] revoke_on_unassign`; `[]` when off or nobody left)
-- ARGV[13] JSON {"from": [statuses], "to": status}: which binding statuses a revocation moves,
--          and to what (from the Rust lifecycle table, `bindings::lifecycle::revocation_json`)
--
-- When the incident is resolved, every live binding of it moves to `revoking` and is due in the
-- schedule at once, in this same step: no binding can outlive the resolve unnoticed. Otherwise,
-- the live bindings of this incident whose subject (compared without case) is among ARGV[12] do
-- the same, with end reason `unassigned`: a responder taken off the incident loses its access in
-- the step that took them off. A stale event removes nobody, so ARGV[12] is then `[]`.
--
-- Returns {"duplicate"}, {"conflict", state, version} (someone else wrote first, or the caller
-- guessed: here is the incident as it is, decide again) or {"applied", new_version}.

for i = 7, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    return {'duplicate'}
  end
end

local version = redis.call('HGET', KEYS[1], 'version') or '0'
if version ~= ARGV[1] then
  return {'conflict', redis.call('HGET', KEYS[1], 'state') or '', version}
end

-- The evidence first: if it cannot be written, nothing is.
audit_append_all(KEYS[4], ARGV[7])

local next_version = tonumber(version) + 1
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'version', next_version, 'status', ARGV[3])

if ARGV[3] == 'resolved' then
  redis.call('ZREM', KEYS[2], ARGV[4])
else
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4])
end
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[4])

for i = 7, #KEYS do
  redis.call('SET', KEYS[i], '1', 'EX', ARGV[6])
end

local origin = cjson.decode(ARGV[9])

-- The revocation rule, read only when this event revokes anything.
local revocation = {to = nil}
local revocable = {}
if ARGV[3] == 'resolved' or ARGV[12] ~= '[]' then
  revocation = cjson.decode(ARGV[13])
  for _, st in ipairs(revocation.from) do
    revocable[st] = true
  end
end

-- Move one live binding to `revoking` (revocation.to), due at once, and say why in the audit trail.
local function revoke(id, key, from, reason)
  audit_append(KEYS[4], {'binding.revoking', ARGV[8], origin[1], origin[2], ARGV[4], id,
    cjson.encode({binding = id, from = from, status = revocation.to, reason = reason})})
  redis.call('HSET', key, 'status', revocation.to, 'end_reason', reason)
  redis.call('HINCRBY', key, 'version', 1)
  redis.call('ZADD', KEYS[6], ARGV[11], id)
end

local function live(st)
  return st ~= nil and revocable[st] == true
end

if ARGV[3] == 'resolved' then
  for _, id in ipairs(redis.call('SMEMBERS', KEYS[5])) do
    local key = ARGV[10] .. id
    local st = redis.call('HGET', key, 'status')
    if live(st) then
      revoke(id, key, st, 'incident_resolved')
    end
  end
elseif ARGV[12] ~= '[]' then
  local gone = {}
  for _, email in ipairs(cjson.decode(ARGV[12])) do
    gone[email] = true
  end
  for _, id in ipairs(redis.call('SMEMBERS', KEYS[5])) do
    local key = ARGV[10] .. id
    local st = redis.call('HGET', key, 'status')
    if live(st) then
      -- An unreadable record is left to its expiry rather than failing the event.
      local ok, b = pcall(cjson.decode, redis.call('HGET', key, 'state') or '')
      if ok and type(b) == 'table' and type(b.subject) == 'string' and gone[string.lower(b.subject)] then
        revoke(id, key, st, 'unassigned')
      end
    end
  end
end

return {'applied', next_version}

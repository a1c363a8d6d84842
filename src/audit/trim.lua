
-- Trim a shard's audit and seal streams up to an archived entry, leaving the anchor where the
-- chain continues, and record the archival itself in the trail.
--
-- KEYS[1] audit stream   KEYS[2] seal stream   KEYS[3] anchor hash
-- ARGV[1] id of the last archived entry   ARGV[2] its seq   ARGV[3] its digest (hex)
-- ARGV[4] its seal (hex, '' when unkeyed)   ARGV[5] the first id to keep (XTRIM MINID)
-- ARGV[6] the `audit.archived` event (JSON array of events)
--
-- Returns 'ok', or 'changed' if the seal of the last archived entry is not the one archived.

local seal = redis.call('XRANGE', KEYS[2], ARGV[1], ARGV[1])
if #seal ~= 1 then
  return 'changed'
end
local h = nil
local fields = seal[1][2]
for i = 1, #fields, 2 do
  if fields[i] == 'h' then
    h = fields[i + 1]
  end
end
if h ~= ARGV[3] then
  return 'changed'
end

audit_append_all(KEYS[1], ARGV[6])
redis.call('HSET', KEYS[3], 'seq', ARGV[2], 'id', ARGV[1], 'h', ARGV[3], 'm', ARGV[4])
redis.call('XTRIM', KEYS[1], 'MINID', ARGV[5])
redis.call('XTRIM', KEYS[2], 'MINID', ARGV[5])
return 'ok'

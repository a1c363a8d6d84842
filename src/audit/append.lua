-- The audit append, prepended to every script that changes state (see src/audit/mod.rs).
--
-- audit_append(stream, e) appends event `e`, a table {type, at, actor, source, incident,
-- binding, data} (data is JSON text), to the shard's audit stream `stream`, with the next
-- sequence number of that stream, and indexes it under its incident. Returns the entry id.
--
-- Keys it derives, all in the stream's hash slot: `<stream>:seq` (the last sequence number)
-- and `<prefix>:{<shard>}:incident:<id>:events` (LIST of the incident's entry ids).
--
-- Callers make their first audit_append their first write: Redis refuses a script's first
-- write when it is out of memory, and then the script stops having written nothing. Evidence
-- and change go together or not at all.
local function audit_append(stream, e)
  local seq = redis.call('INCR', stream .. ':seq')
  local id = redis.call('XADD', stream, '*', 'seq', seq, 'type', e[1], 'at', e[2],
    'actor', e[3], 'source', e[4], 'incident', e[5], 'binding', e[6], 'data', e[7])
  if e[5] ~= '' then
    redis.call('RPUSH', string.sub(stream, 1, -6) .. 'incident:' .. e[5] .. ':events', id)
  end
  return id
end

-- Append every event of a JSON array of events, in order.
local function audit_append_all(stream, json)
  for _, e in ipairs(cjson.decode(json)) do
    audit_append(stream, e)
  end
end

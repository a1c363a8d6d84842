-- Take a lease on a due schedule entry: if it is due, push it `lease` into the future and say so.
-- A worker that dies holding the lease loses nothing: the entry comes due again when it lapses.
--
-- KEYS[1] schedule zset   ARGV[1] binding id   ARGV[2] now (ms)   ARGV[3] lease end (ms)
-- Returns the time (ms) the entry was due if claimed, so that the worker can measure how late
-- the work ran; -1 if not due (or taken by another worker).

local due = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not due or tonumber(due) > tonumber(ARGV[2]) then
  return -1
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return tonumber(due)

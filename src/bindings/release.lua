-- Hand a lease back early: a worker whose work on a due entry failed (Redis or IAM away for a
-- moment) puts the entry back, due at `retry`, instead of leaving it until its lease lapses. Only
-- if the worker still holds the lease: the entry is still at the lease end its claim set (the
-- work itself may have moved it, and another worker may have taken it over since).
--
-- KEYS[1] schedule zset   ARGV[1] binding id   ARGV[2] lease end (ms)   ARGV[3] retry at (ms)
-- Returns 1 if the entry was put back, 0 if not.

local at = redis.call('ZSCORE', KEYS[1], ARGV[1])
if at and tonumber(at) == tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  return 1
end
return 0

-- The reconciler's lock: take it if nobody holds it, or keep it if this replica already does,
-- for ARGV[2] ms. The holder refreshes it at each of its passes, so one replica keeps running
-- every interval; when it dies the lock lapses and another replica's next pass takes it.
-- (A plain SET NX PX would make the holder skip every other pass: its own lock, set a moment
-- after its tick, outlives its next tick.)
--
-- KEYS[1] lock   ARGV[1] this replica's random id   ARGV[2] lifetime (ms)
-- Returns 1 if this replica holds the lock now, 0 if another does.

local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1

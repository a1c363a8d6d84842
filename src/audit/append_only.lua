
-- Append events that record no other change (denials, reconciler findings).
-- KEYS[1] audit stream   ARGV[1] JSON array of events
audit_append_all(KEYS[1], ARGV[1])
return 'ok'

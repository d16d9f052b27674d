-- Lists the live members of a heartbeat set (asynq:servers, asynq:workers or asynq:schedulers:
-- member = the record's key, score = its expiry in unix seconds) and prunes the expired ones, as
-- asynq's listServerKeys, listWorkers and listSchedulerKeys do.
--
-- KEYS[1] -> asynq:servers, asynq:workers or asynq:schedulers
-- ARGV[1] -> now, unix seconds
--
-- Returns the members whose expiry is now or later.

local heartbeatKey = KEYS[1]
local now = tonumber(ARGV[1])

local live = redis.call('ZRANGE', heartbeatKey, now, '+inf', 'BYSCORE')
redis.call('ZREMRANGEBYSCORE', heartbeatKey, '-inf', now - 1)
return live

-- Replaces a scheduler's list of SchedulerEntry messages and sets its TTL. Mirrors asynq's
-- writeSchedulerEntries script; the caller ZADDs the key to asynq:schedulers first, as Go does.
-- Entries are LPUSHed in the order given, so the list ends up reversed, as Go's is.
--
-- KEYS[1] -> asynq:schedulers:{<scheduler id>}
-- ARGV[1] -> TTL in seconds
-- ARGV[2..] -> encoded SchedulerEntry messages
--
-- Returns OK.

local entriesKey = KEYS[1]
local ttlSeconds = ARGV[1]

redis.call('DEL', entriesKey)
for i = 2, #ARGV do
  redis.call('LPUSH', entriesKey, ARGV[i])
end
redis.call('EXPIRE', entriesKey, ttlSeconds)
return redis.status_reply('OK')

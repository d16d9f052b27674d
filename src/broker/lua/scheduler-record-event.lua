-- Records one enqueue of a periodic entry in its history and keeps only the newest events. Mirrors
-- asynq's recordSchedulerEnqueueEvent script.
--
-- KEYS[1] -> asynq:scheduler_history:<entry id>
-- ARGV[1] -> encoded SchedulerEnqueueEvent
-- ARGV[2] -> how many events to keep (asynq: 1000)
-- ARGV[3] -> enqueue time in unix seconds (the score)
--
-- Returns OK.

local historyKey = KEYS[1]
local event = ARGV[1]
local maxEvents = tonumber(ARGV[2])
local enqueuedAt = ARGV[3]

redis.call('ZADD', historyKey, enqueuedAt, event)
-- Ranks run from the oldest; everything but the newest maxEvents goes.
redis.call('ZREMRANGEBYRANK', historyKey, 0, -(maxEvents + 1))
return redis.status_reply('OK')

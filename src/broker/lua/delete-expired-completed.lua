-- Deletes completed tasks whose retention has run out. Mirrors asynq's
-- deleteExpiredCompletedTasks script.
--
-- KEYS[1] -> asynq:{<qname>}:completed
-- ARGV[1] -> now, unix seconds
-- ARGV[2] -> task key prefix asynq:{<qname>}:t:
-- ARGV[3] -> batch size
--
-- Returns the number of tasks deleted; the caller repeats until it returns 0.

--!include lib/delete-tasks.lua
local completedKey = KEYS[1]
local now = ARGV[1]
local taskKeyPrefix = ARGV[2]
local batchSize = tonumber(ARGV[3])

local ids = redis.call('ZRANGE', completedKey, '-inf', now, 'BYSCORE', 'LIMIT', 0, batchSize)
deleteTasks(completedKey, taskKeyPrefix, ids)
return #ids

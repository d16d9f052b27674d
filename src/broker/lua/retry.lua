-- Moves an active task to the retry ZSET after a failed attempt. Mirrors asynq's retry script.
--
-- KEYS[1] -> asynq:{<qname>}:t:<task_id>
-- KEYS[2] -> asynq:{<qname>}:active
-- KEYS[3] -> asynq:{<qname>}:lease
-- KEYS[4] -> asynq:{<qname>}:retry
-- KEYS[5] -> asynq:{<qname>}:processed:<yyyy-mm-dd>
-- KEYS[6] -> asynq:{<qname>}:failed:<yyyy-mm-dd>
-- KEYS[7] -> asynq:{<qname>}:processed
-- KEYS[8] -> asynq:{<qname>}:failed
-- ARGV[1] -> task id
-- ARGV[2] -> updated TaskMessage (error_msg, last_failed_at, retried + 1 when it counts as a failure)
-- ARGV[3] -> retry-at, unix seconds
-- ARGV[4] -> daily stats key expiry, unix seconds
-- ARGV[5] -> "1" when the error counts as a failure (stats are counted), "0" otherwise
-- ARGV[6] -> int64 max, where the totals wrap to 1
--
-- Returns 1 on success, 0 when the task is not active in this queue.

--!include lib/stats.lua
local taskKey = KEYS[1]
local activeKey = KEYS[2]
local leaseKey = KEYS[3]
local retryKey = KEYS[4]
local processedDayKey = KEYS[5]
local failedDayKey = KEYS[6]
local processedTotalKey = KEYS[7]
local failedTotalKey = KEYS[8]
local id = ARGV[1]
local msg = ARGV[2]
local retryAt = ARGV[3]
local statsExpireAt = ARGV[4]
local isFailure = ARGV[5]
local int64Max = ARGV[6]

if redis.call('LREM', activeKey, 0, id) == 0 then
  return 0
end
redis.call('ZREM', leaseKey, id)
redis.call('ZADD', retryKey, retryAt, id)
redis.call('HSET', taskKey, 'msg', msg, 'state', 'retry')
if isFailure == '1' then
  countFailedAttempt(processedDayKey, failedDayKey, processedTotalKey, failedTotalKey, statsExpireAt, int64Max)
end
return 1

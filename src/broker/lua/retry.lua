-- Moves an active task to the retry ZSET after a failed attempt. Mirrors asynq's retry script;
-- taskmill extension: the retry time's milliseconds go to the due ZSET (see lib/due.lua), so our
-- forwarders start the retry on time, never before. A task canceled without retry (the x_cancel
-- decision, lib/cancel.lua) is not retried: it ends as canceled.
--
-- KEYS[1] -> asynq:{<qname>}:t:<task_id>
-- KEYS[2] -> asynq:{<qname>}:active
-- KEYS[3] -> asynq:{<qname>}:lease
-- KEYS[4] -> asynq:{<qname>}:retry
-- KEYS[5] -> asynq:{<qname>}:processed:<yyyy-mm-dd>
-- KEYS[6] -> asynq:{<qname>}:failed:<yyyy-mm-dd>
-- KEYS[7] -> asynq:{<qname>}:processed
-- KEYS[8] -> asynq:{<qname>}:failed
-- KEYS[9] -> asynq:{<qname>}:x:due (ZSET task id -> precise due time, unix ms)
-- ARGV[1] -> task id
-- ARGV[2] -> updated TaskMessage (error_msg, last_failed_at, retried + 1 when it counts as a failure)
-- ARGV[3] -> retry-at, whole unix ms (the retry ZSET gets asynq's whole seconds)
-- ARGV[4] -> daily stats key expiry, unix seconds
-- ARGV[5] -> "1" when the error counts as a failure (stats are counted), "0" otherwise
-- ARGV[6] -> int64 max, where the totals wrap to 1
-- ARGV[7] -> due channel asynq:{<qname>}:x:due (taskmill extension)
-- ARGV[8] -> task key prefix asynq:{<qname>}:t:
--
-- Returns 1 on success, 0 when the task is not active in this queue, 2 when it was canceled.

--!include lib/stats.lua
--!include lib/due.lua
--!include lib/cancel.lua
local taskKey = KEYS[1]
local activeKey = KEYS[2]
local leaseKey = KEYS[3]
local retryKey = KEYS[4]
local processedDayKey = KEYS[5]
local failedDayKey = KEYS[6]
local processedTotalKey = KEYS[7]
local failedTotalKey = KEYS[8]
local dueKey = KEYS[9]
local id = ARGV[1]
local msg = ARGV[2]
local retryAtMs = ARGV[3]
local statsExpireAt = ARGV[4]
local isFailure = ARGV[5]
local int64Max = ARGV[6]
local dueChannel = ARGV[7]
local taskKeyPrefix = ARGV[8]

if redis.call('LREM', activeKey, 0, id) == 0 then
  return 0
end
redis.call('ZREM', leaseKey, id)
if cancelDecided(taskKey) then
  endCanceled(taskKeyPrefix, dueKey, id)
  if isFailure == '1' then
    countFailedAttempt(processedDayKey, failedDayKey, processedTotalKey, failedTotalKey, statsExpireAt, int64Max)
  end
  return 2
end
addDue(retryKey, dueKey, id, retryAtMs)
redis.call('HSET', taskKey, 'msg', msg, 'state', 'retry')
if isFailure == '1' then
  countFailedAttempt(processedDayKey, failedDayKey, processedTotalKey, failedTotalKey, statsExpireAt, int64Max)
end
announceDue(dueChannel)
return 1

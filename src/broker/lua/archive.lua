-- Moves an active task to the archive (dead-letter ZSET) and trims the archive by age and size,
-- deleting the hashes of trimmed tasks. Mirrors asynq's (v0.25+) archive script. A task canceled
-- without retry (the x_cancel decision, lib/cancel.lua) is not archived: it ends as canceled.
-- taskmill extension: the task ends here, through lib/task-ended.lua (outcome record 'archived'
-- with the last error, or 'canceled'; progress clean-up).
--
-- KEYS[1] -> asynq:{<qname>}:t:<task_id>
-- KEYS[2] -> asynq:{<qname>}:active
-- KEYS[3] -> asynq:{<qname>}:lease
-- KEYS[4] -> asynq:{<qname>}:archived
-- KEYS[5] -> asynq:{<qname>}:processed:<yyyy-mm-dd>
-- KEYS[6] -> asynq:{<qname>}:failed:<yyyy-mm-dd>
-- KEYS[7] -> asynq:{<qname>}:processed
-- KEYS[8] -> asynq:{<qname>}:failed
-- KEYS[9] -> asynq:{<qname>}:x:due (a canceled task's due record is dropped with it)
-- ARGV[1] -> task id
-- ARGV[2] -> updated TaskMessage (error_msg and last_failed_at set; retried unchanged)
-- ARGV[3] -> now, unix seconds (the archive score)
-- ARGV[4] -> age cutoff, unix seconds: archived tasks scored at or before it are deleted
-- ARGV[5] -> size bound: afterwards the archive holds at most ARGV[5] - 1 tasks, this one included
--            (asynq passes 10000, keeping 9,999)
-- ARGV[6] -> daily stats key expiry, unix seconds
-- ARGV[7] -> int64 max, where the totals wrap to 1
-- ARGV[8] -> task key prefix asynq:{<qname>}:t:
-- ARGV[9] -> the last error message (for the outcome record)
--
-- Returns 1 on success, 0 when the task is not active in this queue, 2 when it was canceled.

--!include lib/stats.lua
--!include lib/delete-tasks.lua
--!include lib/cancel.lua
--!include lib/dependents.lua
--!include lib/task-ended.lua
local taskKey = KEYS[1]
local activeKey = KEYS[2]
local leaseKey = KEYS[3]
local archivedKey = KEYS[4]
local processedDayKey = KEYS[5]
local failedDayKey = KEYS[6]
local processedTotalKey = KEYS[7]
local failedTotalKey = KEYS[8]
local dueKey = KEYS[9]
local id = ARGV[1]
local msg = ARGV[2]
local now = ARGV[3]
local ageCutoff = ARGV[4]
local sizeBound = tonumber(ARGV[5])
local statsExpireAt = ARGV[6]
local int64Max = ARGV[7]
local taskKeyPrefix = ARGV[8]
local lastError = ARGV[9]

if redis.call('LREM', activeKey, 0, id) == 0 then
  return 0
end
redis.call('ZREM', leaseKey, id)
if cancelDecided(taskKey) then
  endCanceled(taskKeyPrefix, dueKey, id)
  countFailedAttempt(processedDayKey, failedDayKey, processedTotalKey, failedTotalKey, statsExpireAt, int64Max)
  return 2
end
-- The hook's one HMGET also says whether the task has dependents (x_children).
local hasChildren = taskEnded(taskKeyPrefix, id, 'archived', nil, lastError)[4]
-- Trim before adding this task, unlike asynq, which adds first. Trimming afterwards can select this
-- very task (a cutoff in the current second, or equal scores, which ZSETs order by member), delete
-- its hash and leave the HSET below writing a hash that no container lists. Trimming the old tasks
-- to the newest (bound - 2) and then adding this one gives asynq's sizes without that hazard.
deleteTasks(archivedKey, taskKeyPrefix, redis.call('ZRANGE', archivedKey, '-inf', ageCutoff, 'BYSCORE'))
deleteTasks(archivedKey, taskKeyPrefix, redis.call('ZRANGE', archivedKey, 0, -(sizeBound - 1)))
redis.call('ZADD', archivedKey, now, id)
redis.call('HSET', taskKey, 'msg', msg, 'state', 'archived')
if hasChildren then
  dependentsOnEnd(queueOfTaskPrefix(taskKeyPrefix), id, 'archived', now * 1000)
end
countFailedAttempt(processedDayKey, failedDayKey, processedTotalKey, failedTotalKey, statsExpireAt, int64Max)
return 1

-- Moves one task to the pending list so that it runs next time a worker is free, from any state
-- but pending and active. Mirrors asynq's runTask (the unique lock is kept) with one difference:
-- pending_since is set, as on every other path into the pending list, so that queue latency counts
-- from the run (Go's RunTask leaves it unset, and a Go Inspector then reads the queue's latency as
-- 0 while the task waits). A cancel decision left on a task that completed in the same instant
-- (lib/cancel.lua) is dropped: it concerned the run that is over, not the one asked for now.
--
-- KEYS[1] -> asynq:{<qname>}:t:<task_id>
-- KEYS[2] -> asynq:{<qname>}:pending
-- KEYS[3] -> asynq:{<qname>}:x:due (taskmill extension: precise due times; the record is dropped)
-- KEYS[4] -> asynq:{<qname>}:x:prio (taskmill extension: pending tasks with a priority level)
-- KEYS[5] -> asynq:{<qname>}:x:prio-seq (the priority ZSET's sequence counter)
-- ARGV[1] -> task id
-- ARGV[2] -> queue key prefix asynq:{<qname>}:
-- ARGV[3] -> group key prefix asynq:{<qname>}:g:
-- ARGV[4] -> wake-up channel asynq:{<qname>}:x:wake (taskmill extension; published when the
--            pending list was empty, as in enqueue.lua)
-- ARGV[5] -> now, unix nanoseconds (pending_since)
--
-- A task with a priority level (x_prio, lib/priority.lua) joins the back of its level in the
-- priority ZSET instead of the pending list.
--
-- Returns 1 when moved, 0 when the task does not exist, or its state ('pending', 'active') when
-- that state does not allow the move.

--!include lib/task-removal.lua
--!include lib/priority.lua
--!include lib/cancel.lua
local taskKey = KEYS[1]
local pendingKey = KEYS[2]
local dueKey = KEYS[3]
local prioKey = KEYS[4]
local prioSeqKey = KEYS[5]
local id = ARGV[1]
local queueKeyPrefix = ARGV[2]
local groupKeyPrefix = ARGV[3]
local wakeChannel = ARGV[4]
local nowNanos = ARGV[5]

local state = redis.call('HGET', taskKey, 'state')
if not state then
  return 0
end
if state == 'pending' or state == 'active' then
  return state
end
leaveContainer(queueKeyPrefix, groupKeyPrefix, dueKey, taskKey, id, state)
local level = priorityLevel(redis.call('HGET', taskKey, 'x_prio'))
if pushPending(pendingKey, prioKey, prioSeqKey, id, level, false) == 1 or prioritizedTurnedNonEmpty() then
  redis.call('PUBLISH', wakeChannel, '1')
end
redis.call('HSET', taskKey, 'state', 'pending', 'pending_since', nowNanos)
redis.call('HDEL', taskKey, CANCEL_FIELD)
return 1

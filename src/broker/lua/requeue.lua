-- Puts active tasks back at the head of the pending line: tasks a shutting-down server could not
-- finish in time, and leased tasks that will not start where they are (prefetched ones given back,
-- a hand-off that found no free slot). Per task it mirrors asynq's requeue script (RPUSH so the
-- task runs next; no counter changes), with one deliberate fix: pending_since is set to the time
-- the task went back. Go's requeue leaves the field out, so queue latency (now minus the head's
-- pending_since) reads 0 while such a task waits; readers only use the field for latency, and the
-- next dequeue removes it as usual. A task with a priority level (x_prio, lib/priority.lua) goes
-- back to the front of its level in the priority ZSET. A task canceled without retry (the x_cancel
-- decision, lib/cancel.lua) does not go back: it ends as canceled.
--
-- KEYS[1] -> asynq:{<qname>}:active
-- KEYS[2] -> asynq:{<qname>}:lease
-- KEYS[3] -> asynq:{<qname>}:pending
-- KEYS[4] -> asynq:{<qname>}:x:prio (ZSET of pending tasks with a level other than normal)
-- KEYS[5] -> asynq:{<qname>}:x:prio-seq (the priority ZSET's sequence counter)
-- KEYS[6] -> asynq:{<qname>}:x:due (a canceled task's due record is dropped with it)
-- ARGV[1] -> task key prefix asynq:{<qname>}:t:
-- ARGV[2] -> current unix time in nanoseconds (pending_since)
-- ARGV[3..] -> task ids
--
-- Returns one integer per task: 1 requeued, 0 not active in this queue, 2 canceled.

--!include lib/priority.lua
--!include lib/cancel.lua
local activeKey = KEYS[1]
local leaseKey = KEYS[2]
local pendingKey = KEYS[3]
local prioKey = KEYS[4]
local prioSeqKey = KEYS[5]
local dueKey = KEYS[6]
local taskKeyPrefix = ARGV[1]
local nowNanos = ARGV[2]
-- ARGV[3..]: the task ids.
local FIRST_ID = 3

local results = {}
for i = FIRST_ID, #ARGV do
  local id = ARGV[i]
  local result = 0
  if redis.call('LREM', activeKey, 0, id) > 0 then
    redis.call('ZREM', leaseKey, id)
    local taskKey = taskKeyPrefix .. id
    if cancelDecided(taskKey) then
      endCanceled(taskKeyPrefix, dueKey, id)
      result = 2
    else
      local level = priorityLevel(redis.call('HGET', taskKey, 'x_prio'))
      pushPending(pendingKey, prioKey, prioSeqKey, id, level, true)
      redis.call('HSET', taskKey, 'state', 'pending', 'pending_since', nowNanos)
      result = 1
    end
  end
  results[#results + 1] = result
end
return results

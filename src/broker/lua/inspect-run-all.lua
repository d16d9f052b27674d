-- Moves a batch of the tasks of a sorted set (scheduled, retry, archived, or one group's
-- aggregating tasks) to the pending list; the caller repeats until the set is empty. Mirrors
-- asynq's runAll and runAllAggregating (the earliest score is pushed first, so it runs first; unlike
-- Go, pending_since is set, as on every other path into the pending list, so queue latency counts), in batches so that a large set never blocks Redis in one call. An id
-- whose hash is missing is dropped rather than pushed, so no dangling id reaches the pending list.
--
-- KEYS[1] -> the source: asynq:{<qname>}:scheduled, :retry, :archived or :g:<group>
-- KEYS[2] -> asynq:{<qname>}:pending
-- KEYS[3] -> asynq:{<qname>}:groups
-- KEYS[4] -> asynq:{<qname>}:x:due (taskmill extension: precise due times; records are dropped)
-- KEYS[5] -> asynq:{<qname>}:x:prio (taskmill extension: pending tasks with a priority level)
-- KEYS[6] -> asynq:{<qname>}:x:prio-seq (the priority ZSET's sequence counter)
-- ARGV[1] -> group name when KEYS[1] is a group, else ''
-- ARGV[2] -> task key prefix asynq:{<qname>}:t:
-- ARGV[3] -> wake-up channel asynq:{<qname>}:x:wake (taskmill extension; published when the
--            pending list was empty, as in enqueue.lua)
-- ARGV[4] -> batch size: at most this many ids are taken
-- ARGV[5] -> now, unix nanoseconds (pending_since)
--
-- A task with a priority level (x_prio, lib/priority.lua) joins the back of its level in the
-- priority ZSET instead of the pending list.
--
-- Returns { ids taken, tasks moved, ids left in the source }.

--!include lib/task-removal.lua
--!include lib/priority.lua
local sourceKey = KEYS[1]
local pendingKey = KEYS[2]
local groupsKey = KEYS[3]
local dueKey = KEYS[4]
local prioKey = KEYS[5]
local prioSeqKey = KEYS[6]
local group = ARGV[1]
local taskKeyPrefix = ARGV[2]
local wakeChannel = ARGV[3]
local batch = tonumber(ARGV[4])
local nowNanos = ARGV[5]

local wasEmpty = redis.call('LLEN', pendingKey) == 0
local ids = takeBatch(sourceKey, 'zset', batch)
local moved = 0
for _, id in ipairs(ids) do
  local taskKey = taskKeyPrefix .. id
  local level = redis.call('HGET', taskKey, 'x_prio')
  if level or redis.call('EXISTS', taskKey) == 1 then
    pushPending(pendingKey, prioKey, prioSeqKey, id, priorityLevel(level), false)
    redis.call('HSET', taskKey, 'state', 'pending', 'pending_since', nowNanos)
    redis.call('ZREM', dueKey, id)
    moved = moved + 1
  end
end
dropGroupIfEmpty(groupsKey, sourceKey, group)
if (wasEmpty and moved > 0) or prioritizedTurnedNonEmpty() then
  redis.call('PUBLISH', wakeChannel, '1')
end
return { #ids, moved, redis.call('ZCARD', sourceKey) }

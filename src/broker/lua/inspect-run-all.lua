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
-- ARGV[1] -> group name when KEYS[1] is a group, else ''
-- ARGV[2] -> task key prefix asynq:{<qname>}:t:
-- ARGV[3] -> wake-up channel asynq:{<qname>}:x:wake (taskmill extension; published when the
--            pending list was empty, as in enqueue.lua)
-- ARGV[4] -> batch size: at most this many ids are taken
-- ARGV[5] -> now, unix nanoseconds (pending_since)
--
-- Returns { ids taken, tasks moved, ids left in the source }.

--!include lib/task-removal.lua
local sourceKey = KEYS[1]
local pendingKey = KEYS[2]
local groupsKey = KEYS[3]
local dueKey = KEYS[4]
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
  if redis.call('EXISTS', taskKey) == 1 then
    redis.call('LPUSH', pendingKey, id)
    redis.call('HSET', taskKey, 'state', 'pending', 'pending_since', nowNanos)
    redis.call('ZREM', dueKey, id)
    moved = moved + 1
  end
end
dropGroupIfEmpty(groupsKey, sourceKey, group)
if wasEmpty and moved > 0 then
  redis.call('PUBLISH', wakeChannel, '1')
end
return { #ids, moved, redis.call('ZCARD', sourceKey) }

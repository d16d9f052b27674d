-- Moves up to 100 due tasks from the scheduled or retry ZSET into the pending list (or back into
-- their group when the task hash has a 'group' field). Mirrors asynq's forward script, including
-- its quirk of not re-adding the group name to the groups set.
--
-- KEYS[1] -> asynq:{<qname>}:scheduled or asynq:{<qname>}:retry
-- KEYS[2] -> asynq:{<qname>}:pending
-- ARGV[1] -> now, unix seconds
-- ARGV[2] -> task key prefix asynq:{<qname>}:t:
-- ARGV[3] -> now, unix nanoseconds (pending_since)
-- ARGV[4] -> group key prefix asynq:{<qname>}:g:
-- ARGV[5] -> wake-up channel asynq:{<qname>}:x:wake (taskmill extension; published when the
--            pending list was empty, as in enqueue.lua)
--
-- Returns the number of tasks moved; the caller repeats until it returns 0.

local sourceKey = KEYS[1]
local pendingKey = KEYS[2]
local now = ARGV[1]
local taskKeyPrefix = ARGV[2]
local nowNanos = ARGV[3]
local groupKeyPrefix = ARGV[4]
local wakeChannel = ARGV[5]

local ids = redis.call('ZRANGE', sourceKey, '-inf', now, 'BYSCORE', 'LIMIT', 0, 100)
local pushed = 0
for _, id in ipairs(ids) do
  local taskKey = taskKeyPrefix .. id
  local group = redis.call('HGET', taskKey, 'group')
  if group and group ~= '' then
    redis.call('ZADD', groupKeyPrefix .. group, now, id)
    redis.call('ZREM', sourceKey, id)
    redis.call('HSET', taskKey, 'state', 'aggregating')
  else
    redis.call('LPUSH', pendingKey, id)
    pushed = pushed + 1
    redis.call('ZREM', sourceKey, id)
    redis.call('HSET', taskKey, 'state', 'pending', 'pending_since', nowNanos)
  end
end
if pushed > 0 and redis.call('LLEN', pendingKey) == pushed then
  redis.call('PUBLISH', wakeChannel, '1')
end
return #ids

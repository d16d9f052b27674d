-- Puts active tasks back at the head of the pending line, for tasks a shutting-down server could
-- not finish in time. Per task it mirrors asynq's requeue script (RPUSH so the task runs next;
-- like Go, pending_since is not set and no counter changes).
--
-- KEYS[1] -> asynq:{<qname>}:active
-- KEYS[2] -> asynq:{<qname>}:lease
-- KEYS[3] -> asynq:{<qname>}:pending
-- ARGV[1] -> task key prefix asynq:{<qname>}:t:
-- ARGV[2..] -> task ids
--
-- Returns one integer per task: 1 requeued, 0 not active in this queue.

local activeKey = KEYS[1]
local leaseKey = KEYS[2]
local pendingKey = KEYS[3]
local taskKeyPrefix = ARGV[1]

local results = {}
for i = 2, #ARGV do
  local id = ARGV[i]
  local result = 0
  if redis.call('LREM', activeKey, 0, id) > 0 then
    redis.call('ZREM', leaseKey, id)
    redis.call('RPUSH', pendingKey, id)
    redis.call('HSET', taskKeyPrefix .. id, 'state', 'pending')
    result = 1
  end
  results[i - 1] = result
end
return results

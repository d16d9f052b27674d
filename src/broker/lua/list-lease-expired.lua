-- Lists the active tasks of one queue whose lease expired at or before a cutoff, for the recoverer
-- to retry or archive. Unlike asynq's read-only listLeaseExpired it also drops ids that have no task
-- hash from the active list and lease ZSET, since nothing can be recovered from them and dangling ids
-- break asynqmon.
--
-- KEYS[1] -> asynq:{<qname>}:lease
-- KEYS[2] -> asynq:{<qname>}:active
-- ARGV[1] -> cutoff, unix seconds
-- ARGV[2] -> task key prefix asynq:{<qname>}:t:
-- ARGV[3] -> maximum number of tasks to return
--
-- Returns a flat array id1, msg1, id2, msg2, ...

local leaseKey = KEYS[1]
local activeKey = KEYS[2]
local cutoff = ARGV[1]
local taskKeyPrefix = ARGV[2]
local limit = tonumber(ARGV[3])

local ids = redis.call('ZRANGE', leaseKey, '-inf', cutoff, 'BYSCORE', 'LIMIT', 0, limit)
local out = {}
local n = 0
for _, id in ipairs(ids) do
  local msg = redis.call('HGET', taskKeyPrefix .. id, 'msg')
  if msg then
    out[n + 1] = id
    out[n + 2] = msg
    n = n + 2
  else
    redis.call('ZREM', leaseKey, id)
    redis.call('LREM', activeKey, 0, id)
  end
end
return out

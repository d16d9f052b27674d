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
local ids = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
local n = 0
for _, id in ipairs(ids) do
  local msg = redis.call('HGET', ARGV[2] .. id, 'msg')
  if msg then
    out[n + 1] = id
    out[n + 2] = msg
    n = n + 2
  else
    redis.call('ZREM', KEYS[1], id)
    redis.call('LREM', KEYS[2], 0, id)
  end
end
return out

-- Reads the sizes and counters of one queue for the inspector. Mirrors asynq's currentStats script.
--
-- KEYS[1] -> asynq:{<qname>}:pending
-- KEYS[2] -> asynq:{<qname>}:active
-- KEYS[3] -> asynq:{<qname>}:scheduled
-- KEYS[4] -> asynq:{<qname>}:retry
-- KEYS[5] -> asynq:{<qname>}:archived
-- KEYS[6] -> asynq:{<qname>}:completed
-- KEYS[7] -> asynq:{<qname>}:processed:<yyyy-mm-dd>
-- KEYS[8] -> asynq:{<qname>}:failed:<yyyy-mm-dd>
-- KEYS[9] -> asynq:{<qname>}:processed
-- KEYS[10] -> asynq:{<qname>}:failed
-- KEYS[11] -> asynq:{<qname>}:paused
-- KEYS[12] -> asynq:{<qname>}:groups
-- ARGV[1] -> task key prefix asynq:{<qname>}:t:
-- ARGV[2] -> group key prefix asynq:{<qname>}:g:
--
-- Returns a flat array of name, value pairs.
local out = {}
out[#out + 1] = 'pending'
out[#out + 1] = redis.call('LLEN', KEYS[1])
out[#out + 1] = 'active'
out[#out + 1] = redis.call('LLEN', KEYS[2])
out[#out + 1] = 'scheduled'
out[#out + 1] = redis.call('ZCARD', KEYS[3])
out[#out + 1] = 'retry'
out[#out + 1] = redis.call('ZCARD', KEYS[4])
out[#out + 1] = 'archived'
out[#out + 1] = redis.call('ZCARD', KEYS[5])
out[#out + 1] = 'completed'
out[#out + 1] = redis.call('ZCARD', KEYS[6])
local names = { 'processed', 'failed', 'processed_total', 'failed_total' }
for i = 1, 4 do
  out[#out + 1] = names[i]
  out[#out + 1] = tonumber(redis.call('GET', KEYS[6 + i]) or '0') or 0
end
out[#out + 1] = 'paused'
out[#out + 1] = redis.call('EXISTS', KEYS[11])
out[#out + 1] = 'oldest_pending_since'
local head = redis.call('LRANGE', KEYS[1], -1, -1)[1]
local since = 0
if head then
  since = redis.call('HGET', ARGV[1] .. head, 'pending_since') or 0
end
out[#out + 1] = since
local groups = redis.call('SMEMBERS', KEYS[12])
out[#out + 1] = 'group_size'
out[#out + 1] = #groups
local aggregating = 0
for _, group in ipairs(groups) do
  aggregating = aggregating + redis.call('ZCARD', ARGV[2] .. group)
end
out[#out + 1] = 'aggregating'
out[#out + 1] = aggregating
return out

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

local pendingKey = KEYS[1]
local activeKey = KEYS[2]
local scheduledKey = KEYS[3]
local retryKey = KEYS[4]
local archivedKey = KEYS[5]
local completedKey = KEYS[6]
local processedDayKey = KEYS[7]
local failedDayKey = KEYS[8]
local processedTotalKey = KEYS[9]
local failedTotalKey = KEYS[10]
local pausedKey = KEYS[11]
local groupsKey = KEYS[12]
local taskKeyPrefix = ARGV[1]
local groupKeyPrefix = ARGV[2]

local out = {}
local function put(name, value)
  out[#out + 1] = name
  out[#out + 1] = value
end
local function counter(key)
  return tonumber(redis.call('GET', key) or '0') or 0
end

put('pending', redis.call('LLEN', pendingKey))
put('active', redis.call('LLEN', activeKey))
put('scheduled', redis.call('ZCARD', scheduledKey))
put('retry', redis.call('ZCARD', retryKey))
put('archived', redis.call('ZCARD', archivedKey))
put('completed', redis.call('ZCARD', completedKey))
put('processed', counter(processedDayKey))
put('failed', counter(failedDayKey))
put('processed_total', counter(processedTotalKey))
put('failed_total', counter(failedTotalKey))
put('paused', redis.call('EXISTS', pausedKey))
local head = redis.call('LRANGE', pendingKey, -1, -1)[1]
local since = 0
if head then
  since = redis.call('HGET', taskKeyPrefix .. head, 'pending_since') or 0
end
put('oldest_pending_since', since)
local groups = redis.call('SMEMBERS', groupsKey)
put('group_size', #groups)
local aggregating = 0
for _, group in ipairs(groups) do
  aggregating = aggregating + redis.call('ZCARD', groupKeyPrefix .. group)
end
put('aggregating', aggregating)
return out

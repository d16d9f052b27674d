-- Reads the sizes and counters of one queue for the inspector. Mirrors asynq's currentStats script.
-- taskmill extension: prioritized pending tasks (the x:prio ZSET, lib/priority.lua) count as
-- pending, and the oldest pending_since considers them: per level present, its front (a requeued
-- task) and the first task at its back (the earliest enqueued), two reads per level.
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
-- KEYS[13] -> asynq:{<qname>}:x:prio (ZSET of pending tasks with a level other than normal)
-- ARGV[1] -> task key prefix asynq:{<qname>}:t:
-- ARGV[2] -> group key prefix asynq:{<qname>}:g:
--
-- Returns a flat array of name, value pairs.

--!include lib/priority.lua
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
local prioKey = KEYS[13]
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

put('pending', redis.call('LLEN', pendingKey) + redis.call('ZCARD', prioKey))
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
-- pending_since values are unix ns of equal length: as numbers they compare well enough to pick
-- the oldest, and the field's own text is returned.
local sinceNumber = tonumber(since) or 0
local function consider(id)
  if id then
    local candidate = redis.call('HGET', taskKeyPrefix .. id, 'pending_since')
    local value = tonumber(candidate)
    if value and value > 0 and (sinceNumber == 0 or value < sinceNumber) then
      since = candidate
      sinceNumber = value
    end
  end
end
local cursor = '-inf'
while true do
  local first = redis.call('ZRANGE', prioKey, cursor, '+inf', 'BYSCORE', 'LIMIT', 0, 1, 'WITHSCORES')
  if not first[1] then
    break
  end
  local levelStart = math.floor(tonumber(first[2]) / PRIO_LEVEL_SPAN) * PRIO_LEVEL_SPAN
  consider(first[1])
  local back = string.format('%.0f', levelStart + PRIO_MIDDLE)
  local levelEnd = string.format('(%.0f', levelStart + PRIO_LEVEL_SPAN)
  consider(redis.call('ZRANGE', prioKey, back, levelEnd, 'BYSCORE', 'LIMIT', 0, 1)[1])
  cursor = string.format('%.0f', levelStart + PRIO_LEVEL_SPAN)
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

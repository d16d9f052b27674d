-- Estimates the memory a queue's tasks use, as asynq's memoryUsage script does (so our number is
-- the one Go's Inspector and asynqmon show): for the active and pending lists and the scheduled,
-- retry, archived and completed sets, the average MEMORY USAGE of the first ARGV[2] task hashes
-- times the container's size, plus the container itself; for groups, the average over up to
-- ARGV[2] tasks of each of the first ARGV[3] groups times all aggregating tasks. A sampled id
-- without a hash counts 0 bytes (asynq v0.24's script fails on one). taskmill's priority ZSET
-- (pending tasks with a level other than normal) counts as one more container.
--
-- KEYS[1] -> asynq:{<qname>}:active
-- KEYS[2] -> asynq:{<qname>}:pending
-- KEYS[3] -> asynq:{<qname>}:scheduled
-- KEYS[4] -> asynq:{<qname>}:retry
-- KEYS[5] -> asynq:{<qname>}:archived
-- KEYS[6] -> asynq:{<qname>}:completed
-- KEYS[7] -> asynq:{<qname>}:groups
-- KEYS[8] -> asynq:{<qname>}:x:prio (taskmill extension: pending tasks with a priority level)
-- ARGV[1] -> task key prefix asynq:{<qname>}:t:
-- ARGV[2] -> task sample size (asynq: 20)
-- ARGV[3] -> group sample size (asynq: 5)
-- ARGV[4] -> group key prefix asynq:{<qname>}:g:
--
-- Returns the estimate in bytes (an integer: the fraction is dropped, as Redis converts asynq's).

local activeKey = KEYS[1]
local pendingKey = KEYS[2]
local scheduledKey = KEYS[3]
local retryKey = KEYS[4]
local archivedKey = KEYS[5]
local completedKey = KEYS[6]
local groupsKey = KEYS[7]
local prioKey = KEYS[8]
local taskKeyPrefix = ARGV[1]
local sampleSize = tonumber(ARGV[2])
local groupSampleSize = tonumber(ARGV[3])
local groupKeyPrefix = ARGV[4]

local function sampleBytes(ids)
  local total = 0
  for _, id in ipairs(ids) do
    total = total + (redis.call('MEMORY', 'USAGE', taskKeyPrefix .. id) or 0)
  end
  return total
end

local bytes = 0
local containers = {
  { activeKey, 'LRANGE', 'LLEN' },
  { pendingKey, 'LRANGE', 'LLEN' },
  { scheduledKey, 'ZRANGE', 'ZCARD' },
  { retryKey, 'ZRANGE', 'ZCARD' },
  { archivedKey, 'ZRANGE', 'ZCARD' },
  { completedKey, 'ZRANGE', 'ZCARD' },
  { prioKey, 'ZRANGE', 'ZCARD' },
}
for _, c in ipairs(containers) do
  local ids = redis.call(c[2], c[1], 0, sampleSize - 1)
  if #ids > 0 then
    bytes = bytes + sampleBytes(ids) / #ids * redis.call(c[3], c[1])
  end
  bytes = bytes + (redis.call('MEMORY', 'USAGE', c[1]) or 0)
end
local aggregating = 0
local sampled = 0
local sampledBytes = 0
for i, group in ipairs(redis.call('SMEMBERS', groupsKey)) do
  local groupKey = groupKeyPrefix .. group
  aggregating = aggregating + redis.call('ZCARD', groupKey)
  if i <= groupSampleSize then
    local ids = redis.call('ZRANGE', groupKey, 0, sampleSize - 1)
    sampled = sampled + #ids
    sampledBytes = sampledBytes + sampleBytes(ids)
  end
end
if sampled > 0 then
  bytes = bytes + sampledBytes / sampled * aggregating
end
return math.floor(bytes)

-- Deletes a queue's tasks and containers. Without force it refuses when any task exists (asynq
-- checks only pending, active, scheduled, retry and archived; completed and aggregating tasks
-- count here too, and so do prioritized pending tasks). With force it refuses while tasks are
-- active, as asynq does, and otherwise deletes every task listed in any container, group or
-- aggregation set (with its unique lock), the containers, the groups, the paused flag, the due
-- records and the priority sequence, in batches over several calls. taskmill extension: each live
-- task ends through lib/task-ended.lua (outcome record 'deleted', progress clean-up), so a waiter
-- hears of it.
-- The processed/failed counters stay, as asynq's do. The caller removes the name from
-- asynq:queues, in another hash slot.
--
-- KEYS[1] -> asynq:{<qname>}:pending
-- KEYS[2] -> asynq:{<qname>}:active
-- KEYS[3] -> asynq:{<qname>}:scheduled
-- KEYS[4] -> asynq:{<qname>}:retry
-- KEYS[5] -> asynq:{<qname>}:archived
-- KEYS[6] -> asynq:{<qname>}:completed
-- KEYS[7] -> asynq:{<qname>}:lease
-- KEYS[8] -> asynq:{<qname>}:groups
-- KEYS[9] -> asynq:{<qname>}:aggregation_sets
-- KEYS[10] -> asynq:{<qname>}:paused
-- KEYS[11] -> asynq:{<qname>}:x:due (taskmill extension: precise due times)
-- KEYS[12] -> asynq:{<qname>}:x:prio (taskmill extension: pending tasks with a priority level)
-- KEYS[13] -> asynq:{<qname>}:x:prio-seq (the priority ZSET's sequence counter)
-- ARGV[1] -> '1' to delete the tasks too, '0' to refuse when there are any
-- ARGV[2] -> task key prefix asynq:{<qname>}:t:
-- ARGV[3] -> group key prefix asynq:{<qname>}:g:
-- ARGV[4] -> batch size (force): at most this many tasks are deleted per call
--
-- Returns 1 when deleted, 'not-empty' (without force) or 'active' (with force) when refused, or
-- { 'more', tasks left } when this call deleted a batch of tasks and the caller must call again
-- (a large queue is deleted over several calls so that none blocks Redis for long).

--!include lib/task-removal.lua
--!include lib/task-ended.lua
local pendingKey = KEYS[1]
local activeKey = KEYS[2]
local scheduledKey = KEYS[3]
local retryKey = KEYS[4]
local archivedKey = KEYS[5]
local completedKey = KEYS[6]
local leaseKey = KEYS[7]
local groupsKey = KEYS[8]
local aggregationSetsKey = KEYS[9]
local pausedKey = KEYS[10]
local dueKey = KEYS[11]
local prioKey = KEYS[12]
local prioSeqKey = KEYS[13]
local force = ARGV[1]
local taskKeyPrefix = ARGV[2]
local groupKeyPrefix = ARGV[3]
local batch = tonumber(ARGV[4])

local lists = { pendingKey, activeKey }
local sets = { scheduledKey, retryKey, archivedKey, completedKey, prioKey }
for _, group in ipairs(redis.call('SMEMBERS', groupsKey)) do
  sets[#sets + 1] = groupKeyPrefix .. group
end
for _, setKey in ipairs(redis.call('ZRANGE', aggregationSetsKey, 0, -1)) do
  sets[#sets + 1] = setKey
end

if force ~= '1' then
  for _, key in ipairs(lists) do
    if redis.call('LLEN', key) > 0 then
      return 'not-empty'
    end
  end
  for _, key in ipairs(sets) do
    if redis.call('ZCARD', key) > 0 then
      return 'not-empty'
    end
  end
elseif redis.call('LLEN', activeKey) > 0 then
  return 'active'
end

-- Delete up to a batch of tasks (none are left without force; active is empty with force).
local budget = batch
local function drain(key, kind)
  while budget > 0 do
    local ids = takeBatch(key, kind, budget)
    if #ids == 0 then
      return
    end
    for _, id in ipairs(ids) do
      local state = redis.call('HGET', taskKeyPrefix .. id, 'state')
      if state then
        endRemovedTask(taskKeyPrefix, id, state, 'deleted')
      end
      deleteTaskHash(taskKeyPrefix, dueKey, id)
    end
    budget = budget - #ids
  end
end
for _, key in ipairs(lists) do
  drain(key, 'list')
end
for _, key in ipairs(sets) do
  drain(key, 'zset')
end
if budget == 0 then
  local left = 0
  for _, key in ipairs(lists) do
    left = left + redis.call('LLEN', key)
  end
  for _, key in ipairs(sets) do
    left = left + redis.call('ZCARD', key)
  end
  if left > 0 then
    return { 'more', left }
  end
end
redis.call('DEL', leaseKey, groupsKey, aggregationSetsKey, pausedKey, dueKey, prioSeqKey)
return 1

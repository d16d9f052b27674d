-- Enqueues the task of one periodic entry's tick, and of missed ticks its misfire policy catches up,
-- at most once per tick among any number of schedulers (taskmill extension). The entry's tick record
-- holds the newest tick already enqueued; a candidate tick at or before it was enqueued by another
-- scheduler (or an earlier run of this call) and is skipped. Checking and advancing the record in
-- the same script that writes the task makes "claim the tick" and "enqueue its task" one atomic step
-- on the queue's slot: no tick is enqueued twice, and none is claimed without its task.
--
-- Missed ticks (every candidate but the required one) are only enqueued when a record exists: a
-- scheduler with no record cannot tell missed ticks from ticks before the entry existed. A tick whose
-- task could not be created (task id conflict, unique lock held) still counts as handled, as it does
-- for asynq, so other schedulers do not try it again.
--
-- Each task is written as enqueue.lua writes a client's: pending (with pending_since; an empty
-- pending list that becomes non-empty publishes on the wake-up channel), scheduled (asynq's
-- whole-second score plus the precise due record, lib/due.lua), or added to its group (state
-- aggregating, lib/aggregation.lua), optionally under a uniqueness lock.
--
-- KEYS[1] -> asynq:{<qname>}:x:sched:<entry id> (tick record: newest enqueued tick, unix ms)
-- KEYS[2] -> asynq:{<qname>}:pending
-- KEYS[3] -> asynq:{<qname>}:scheduled
-- KEYS[4] -> asynq:{<qname>}:x:due (ZSET task id -> precise due time, unix ms)
-- KEYS[5] -> asynq:{<qname>}:groups
-- KEYS[6] -> asynq:{<qname>}:x:prio (ZSET of pending tasks with a level other than normal)
-- KEYS[7] -> asynq:{<qname>}:x:prio-seq (the priority ZSET's sequence counter)
-- ARGV[1] -> task key prefix asynq:{<qname>}:t:
-- ARGV[2] -> current unix time in nanoseconds (pending_since)
-- ARGV[3] -> wake-up channel asynq:{<qname>}:x:wake
-- ARGV[4] -> TTL of the tick record in milliseconds
-- ARGV[5] -> the required tick (unix ms), or "" when every candidate is a missed tick
-- ARGV[6] -> unique lock key, or "" when the task is not unique
-- ARGV[7] -> unique lock TTL in whole seconds
-- ARGV[8] -> due channel asynq:{<qname>}:x:due
-- ARGV[9] -> group key prefix asynq:{<qname>}:g:
-- ARGV[10] -> current unix time in seconds (a grouped task's score in its group)
-- ARGV[11] -> outcome record TTL in ms for the tasks (the resultTTL option; "0" = none), as
--             enqueue.lua's keep: the task hash gets x_keep (lib/task-ended.lua)
-- ARGV[12..] -> per candidate tick, oldest first: tick (unix ms), task id, encoded TaskMessage,
--              process-at (whole unix ms, "0" = now), group ("" = none), priority level ("" =
--              normal; lib/priority.lua: the hash gets x_prio and a pending task the priority ZSET)
--
-- Returns one integer per candidate: 1 created, 0 task id conflict, -1 unique lock held, -2 tick
-- already handled (or a missed tick with no record to tell).

--!include lib/write-task.lua
--!include lib/task-fields.lua
--!include lib/due.lua
--!include lib/aggregation.lua
--!include lib/priority.lua
local tickKey = KEYS[1]
local pendingKey = KEYS[2]
local scheduledKey = KEYS[3]
local dueKey = KEYS[4]
local groupsKey = KEYS[5]
local prioKey = KEYS[6]
local prioSeqKey = KEYS[7]
local taskKeyPrefix = ARGV[1]
local nowNanos = ARGV[2]
local wakeChannel = ARGV[3]
local recordTtlMs = ARGV[4]
local requiredTick = ARGV[5]
local uniqueKey = ARGV[6]
local uniqueTtl = ARGV[7]
local dueChannel = ARGV[8]
local groupKeyPrefix = ARGV[9]
local nowSec = ARGV[10]
local keep = ARGV[11]
-- ARGV[12..]: the candidate ticks, six values each (see the header).
local FIRST_CANDIDATE = 12

local stored = redis.call('GET', tickKey)
local last = tonumber(stored) or -1
local newest = nil
local wake = false
local results = {}

for i = FIRST_CANDIDATE, #ARGV, 6 do
  local tick = ARGV[i]
  local id = ARGV[i + 1]
  local msg = ARGV[i + 2]
  local processAt = ARGV[i + 3]
  local group = ARGV[i + 4]
  local level = priorityLevel(ARGV[i + 5])
  local taskKey = taskKeyPrefix .. id
  local result
  if tonumber(tick) <= last or (not stored and tick ~= requiredTick) then
    result = -2
  else
    newest = tick
    last = tonumber(tick)
    if redis.call('EXISTS', taskKey) == 1 then
      result = 0
    elseif uniqueKey ~= '' and not redis.call('SET', uniqueKey, id, 'NX', 'EX', uniqueTtl) then
      result = -1
    elseif group ~= '' then
      result = 1
      addToGroup(taskKey, msg, groupKeyPrefix .. group, groupsKey, group, id, nowSec)
      writeTaskFields(taskKey, level, keep)
    else
      result = 1
      if processAt == '0' then
        writeTask(taskKey, msg, 'pending', nowNanos, uniqueKey, level, keep)
        if pushPending(pendingKey, prioKey, prioSeqKey, id, level, false) == 1 then
          wake = true
        end
      else
        writeTask(taskKey, msg, 'scheduled', nil, uniqueKey, level, keep)
        addDue(scheduledKey, dueKey, id, processAt)
      end
    end
    if result == 1 then
      dropEarlierRecord(taskKeyPrefix, id, keep)
    end
  end
  results[#results + 1] = result
end

if newest then
  redis.call('SET', tickKey, newest, 'PX', recordTtlMs)
end
if wake or prioritizedTurnedNonEmpty() then
  redis.call('PUBLISH', wakeChannel, '1')
end
announceDue(dueChannel)
return results

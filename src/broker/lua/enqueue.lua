-- Creates one or more tasks in one queue: each goes to the pending list, or to the scheduled ZSET
-- when it has a future process-at time, optionally guarded by a uniqueness lock. Covers asynq's
-- enqueue, enqueueUnique, schedule and scheduleUnique scripts with identical per-task effects, so a
-- bulk enqueue of many tasks costs one round trip per queue.
--
-- Deliberate fix of an asynq quirk: the task-id conflict is checked before the uniqueness lock is
-- taken, so a conflicting task never leaves a stray lock behind (Go peers cannot tell the difference
-- except that no orphan lock exists).
--
-- Hand-off (taskmill extension): while the pending list is empty and the queue is not paused, a
-- task due now goes straight to an idle taskmill server that registered in the idle set (see
-- done-and-dequeue.lua): it is leased to that server exactly as asynq's dequeue would lease it
-- (active list, state=active, no pending_since, a lease entry) and its message is published on the
-- server's hand-off channel, saving the server a wake-up and a dequeue round trip. PUBLISH returns
-- how many subscribers got the message; 0 means the server is gone (or between reconnects), so its
-- registration is dropped and the next idle server is tried, and with none left the task is
-- pending as usual. Nothing changes for Go peers: they never register, and the end state is the
-- one an enqueue followed by a dequeue leaves.
--
-- The producer's clock takes no part in a hand-off (docs/clocks.md): registrations expire on the
-- Redis server's clock, and the lease is Redis's time plus the server's offset and lease seconds
-- from its registration, i.e. the server's own clock, as every other lease score. TIME is read
-- once per call and only when the idle set is not empty, so an enqueue on a busy queue pays
-- nothing for it.
--
-- KEYS[1] -> asynq:{<qname>}:pending
-- KEYS[2] -> asynq:{<qname>}:scheduled
-- KEYS[3] -> asynq:{<qname>}:active
-- KEYS[4] -> asynq:{<qname>}:lease
-- KEYS[5] -> asynq:{<qname>}:paused
-- KEYS[6] -> asynq:{<qname>}:x:handoff-idle (ZSET server id -> registration expiry, unix ms on
--            Redis's clock)
-- KEYS[7] -> asynq:{<qname>}:x:handoff-slots (HASH server id -> free slots × SLOT + BIAS + lease
--            seconds + clock offset seconds; see lib/idle.lua)
-- KEYS[8] -> asynq:{<qname>}:x:due (ZSET task id -> precise due time, unix ms; see lib/due.lua)
-- KEYS[9] -> asynq:{<qname>}:groups
-- KEYS[10] -> asynq:{<qname>}:aggregation_sets
-- KEYS[11] -> asynq:{<qname>}:x:prio (ZSET of pending tasks with a level other than normal; see
--             lib/priority.lua)
-- KEYS[12] -> asynq:{<qname>}:x:prio-seq (the priority ZSET's sequence counter)
-- KEYS[13] -> asynq:{<qname>}:x:waiting (taskmill extension: dependents waiting for parents)
-- ARGV[1] -> task key prefix asynq:{<qname>}:t:
-- ARGV[2] -> current unix time in nanoseconds (pending_since)
-- ARGV[3] -> wake-up channel asynq:{<qname>}:x:wake (taskmill extension)
-- ARGV[4] -> hand-off channel prefix (the server id is appended)
-- ARGV[5] -> queue name (part of the hand-off message)
-- ARGV[6] -> the tasks' index: per task "<#id>:<id><#msg>:<process-at>:<#unique key>:<unique
--            key><unique TTL>:<#group>:<group><#set key>:<set key><priority>:<keep>:", where
--            process-at is whole unix ms ("0" = pending now), the unique key is empty when the task
--            is not unique and the TTL is in whole seconds, the group is empty for a task not added
--            to a group, the set key is empty unless the task is the aggregate of that aggregation
--            set, the priority is a level 0-100, or empty for normal, and keep is the outcome
--            record's TTL in ms ("0" = none; the resultTTL option)
-- ARGV[7] -> the tasks' encoded TaskMessages, concatenated in index order
-- ARGV[8] -> due channel asynq:{<qname>}:x:due (taskmill extension, see lib/due.lua)
-- ARGV[9] -> group key prefix asynq:{<qname>}:g:
-- ARGV[10] -> current unix time in seconds (a grouped task's score in its group)
--
-- Two arguments for any number of tasks rather than five per task: the client serializes a few
-- large arguments much faster than hundreds of small ones, and that was most of its CPU per task.
--
-- Hand-off message: "<lease expiry, unix s on the receiving server's clock>:<#queue>:<queue><#id>:<id><encoded TaskMessage>", the
-- lengths in bytes, so ids and queue names may hold any byte.
--
-- When this call made an empty pending list non-empty it publishes on the wake-up channel, so idle
-- taskmill servers fetch at once instead of waiting for their next poll. Servers that are busy keep
-- fetching while the list is non-empty, so one message per empty-to-non-empty change is enough, and
-- a steady stream costs no extra command. PUBLISH creates no key: Go peers see nothing of it.
--
-- Groups (asynq's addToGroup): a task due now with a group goes into its group ZSET with state
-- aggregating instead of the pending list (lib/aggregation.lua). An aggregated task (a set key in
-- the index) is created only while its aggregation set is still registered, and creating it
-- deletes the set and the tasks in it, in this one atomic call: the aggregate exists exactly when
-- its tasks are gone, so an aggregator killed at any point neither loses the tasks nor, once the
-- stale set is reclaimed, aggregates them twice. (asynq enqueues the aggregate and deletes the set
-- in two calls.)
--
-- Priority (taskmill extension, lib/priority.lua): a task with a level other than normal gets the
-- hash field x_prio, and when pending it waits in the priority ZSET instead of the pending list. A
-- hand-off needs the list and the ZSET empty, so it never jumps ahead of a waiting task of any
-- level; an add that turns the ZSET non-empty wakes idle servers as a push to the list does.
--
-- Outcome records (taskmill extension, lib/task-ended.lua): a task created with a keep gets the
-- hash field x_keep, and a record that a previous task with its id left is deleted, so that a
-- waiter never reads an older task's outcome.
--
-- Returns one integer per task, in order: 1 created, 0 task id conflict (with a task or a waiting
-- dependent), -1 unique lock held, -2 its aggregation set is no longer registered (reclaimed, or
-- already consumed).

--!include lib/idle.lua
--!include lib/write-task.lua
--!include lib/task-fields.lua
--!include lib/due.lua
--!include lib/aggregation.lua
--!include lib/priority.lua
--!include lib/batch-index.lua
local pendingKey = KEYS[1]
local scheduledKey = KEYS[2]
local activeKey = KEYS[3]
local leaseKey = KEYS[4]
local pausedKey = KEYS[5]
local idleKey = KEYS[6]
local idleSlotsKey = KEYS[7]
local taskKeyPrefix = ARGV[1]
local nowNanos = ARGV[2]
local wakeChannel = ARGV[3]
local handOffChannelPrefix = ARGV[4]
local queueName = ARGV[5]
local index = ARGV[6]
local messages = ARGV[7]
local dueKey = KEYS[8]
local dueChannel = ARGV[8]
local groupsKey = KEYS[9]
local aggregationSetsKey = KEYS[10]
local prioKey = KEYS[11]
local prioSeqKey = KEYS[12]
local waitingKey = KEYS[13]
local groupKeyPrefix = ARGV[9]
local nowSec = ARGV[10]

-- nil: not checked yet in this call; false: no hand-off in this call (so later tasks cannot jump
-- ahead of one that went pending).
local canHandOff = nil

-- Redis's clock in unix ms, read once in this call when first needed.
local redisNowMs = nil

-- The idle server whose registration expires first and has not expired, or nil. With no
-- registration at all (a busy queue) that costs one command and no TIME.
local function nextIdleServer()
  if redisNowMs then
    return redis.call('ZRANGEBYSCORE', idleKey, string.format('%d', redisNowMs), '+inf', 'LIMIT', 0, 1)[1]
  end
  local first = redis.call('ZRANGE', idleKey, 0, 0, 'WITHSCORES')
  if not first[1] then
    return nil
  end
  redisNowMs = redisTimeMs()
  if tonumber(first[2]) >= redisNowMs then
    return first[1]
  end
  -- Expired registrations are pruned by the next registration (done-and-dequeue.lua).
  return redis.call('ZRANGEBYSCORE', idleKey, string.format('%d', redisNowMs), '+inf', 'LIMIT', 0, 1)[1]
end

-- Leases the task to an idle server and publishes it there; false when no idle server took it.
-- The registration is looked up first: with no idle server (a busy queue) that is the only command.
local function handOff(id, taskKey, msg, uniqueKey, level, keep)
  while canHandOff ~= false do
    local server = nextIdleServer()
    if not server then
      canHandOff = false
      return false
    end
    if canHandOff == nil then
      -- An empty list does not exist in Redis: one EXISTS checks the list, the priority ZSET and
      -- the pause flag.
      canHandOff = redis.call('EXISTS', pendingKey, prioKey, pausedKey) == 0
      if not canHandOff then
        return false
      end
    end
    -- A missing value, or one without a slot, goes negative: no slot is left, and the registration
    -- is dropped.
    local packed = redis.call('HINCRBY', idleSlotsKey, server, -SLOT)
    local slotsLeft = math.floor(packed / SLOT)
    local delivered = 0
    local expiry
    if slotsLeft >= 0 then
      -- The server's clock now (Redis's plus its offset), plus its lease.
      expiry = math.floor(redisNowMs / 1000) + packed % SLOT - BIAS
      local message = expiry .. ':' .. #queueName .. ':' .. queueName .. #id .. ':' .. id .. msg
      delivered = redis.call('PUBLISH', handOffChannelPrefix .. server, message)
    end
    if delivered > 0 then
      if slotsLeft == 0 then
        dropIdle(idleKey, idleSlotsKey, server)
      end
      writeTask(taskKey, msg, 'active', nil, uniqueKey, level, keep)
      redis.call('LPUSH', activeKey, id)
      redis.call('ZADD', leaseKey, expiry, id)
      return true
    end
    dropIdle(idleKey, idleSlotsKey, server)
  end
  return false
end

local number, counted, message, more = batchReader(index, messages)

local results = {}
local n = 0
-- Length of the pending list after this call's first push (LPUSH returns it): 1 means the call
-- found the list empty.
local firstPushLength = nil
while more() do
  local id = counted()
  local msg = message()
  local processAt = number()
  local uniqueKey = counted()
  local uniqueTtl = number()
  local group = counted()
  local setKey = counted()
  local level = priorityLevel(number())
  local keep = number()
  local taskKey = taskKeyPrefix .. id
  local result = 1
  local created = false
  if redis.call('EXISTS', taskKey) == 1 then
    -- The same bytes under the same id are this very task, stored by an earlier run of this call
    -- (a client re-sends an unanswered command after a reconnect) or by a retry after an unknown
    -- outcome: it is reported created, not as a conflict, and nothing is written again.
    if redis.call('HGET', taskKey, 'msg') ~= msg then
      result = 0
    end
  elseif redis.call('ZSCORE', waitingKey, id) then
    -- A waiting dependent (docs/workflows.md "Dependencies") holds its id like any task.
    result = 0
  elseif setKey ~= '' and not redis.call('ZSCORE', aggregationSetsKey, setKey) then
    result = -2
  elseif uniqueKey ~= '' and not redis.call('SET', uniqueKey, id, 'NX', 'EX', uniqueTtl) then
    result = -1
  elseif group ~= '' and processAt == '0' then
    created = true
    addToGroup(taskKey, msg, groupKeyPrefix .. group, groupsKey, group, id, nowSec)
    writeTaskFields(taskKey, level, keep)
  elseif processAt == '0' then
    created = true
    if not handOff(id, taskKey, msg, uniqueKey, level, keep) then
      writeTask(taskKey, msg, 'pending', nowNanos, uniqueKey, level, keep)
      local length = pushPending(pendingKey, prioKey, prioSeqKey, id, level, false)
      if length > 0 then
        firstPushLength = firstPushLength or length
      end
    end
  else
    created = true
    writeTask(taskKey, msg, 'scheduled', nil, uniqueKey, level, keep)
    -- asynq's whole-second score for Go peers, the precise time in the extension record.
    addDue(scheduledKey, dueKey, id, processAt, group == '' and level == nil)
  end
  if created then
    dropEarlierRecord(taskKeyPrefix, id, keep)
  end
  if created and setKey ~= '' then
    deleteAggregationSet(setKey, aggregationSetsKey, taskKeyPrefix)
  end
  n = n + 1
  results[n] = result
end
if firstPushLength == 1 or prioritizedTurnedNonEmpty() then
  redis.call('PUBLISH', wakeChannel, '1')
end
announceDue(dueChannel)
return results

-- Library: per-task priority inside a queue (taskmill extension; docs/workflows.md "Priority").
-- A pending task of the normal level (50, or no level) stays in asynq's pending list, so plain
-- queues and Go peers see nothing new. A pending task of any other level waits in the ZSET
-- asynq:{<qname>}:x:prio instead, and its hash carries the level in the field x_prio, so that
-- every path that puts the task back to pending puts it back at its level.
--
-- Score of a task of level L: (100 - L) * 2^41 + 2^40 + seq for a task joining the back of its
-- level (enqueue, forward, run), or ... - seq for one put back at the front (a requeue: it runs
-- next, as asynq's RPUSH makes it). seq comes from INCR asynq:{<qname>}:x:prio-seq, so ZRANGE
-- order is higher level first, FIFO within a level, and every score stays below 2^53 (exact in a
-- double) for the first 2^40 tasks of the queue.

local PRIO_NORMAL = 50
local PRIO_LEVEL_SPAN = 2199023255552 -- 2^41
local PRIO_MIDDLE = 1099511627776 -- 2^40
-- Scores below this are the levels above normal.
local PRIO_ABOVE_NORMAL_END = string.format('(%.0f', (100 - PRIO_NORMAL) * PRIO_LEVEL_SPAN)

-- The level of a task whose hash field x_prio holds value, when it belongs in the priority ZSET
-- (an integer 0-100 other than normal); else nil (the pending list).
local function priorityLevel(value)
  local level = tonumber(value)
  if level and level ~= PRIO_NORMAL and level >= 0 and level <= 100 and level == math.floor(level) then
    return level
  end
  return nil
end

-- Whether the priority ZSET was empty before this call's first add (nil: nothing added yet).
local prioWasEmpty = nil

-- Adds a pending task id to the priority ZSET at level: at the back of the level, or at its
-- front when atFront is true.
local function addPrioritized(prioKey, prioSeqKey, id, level, atFront)
  if prioWasEmpty == nil then
    prioWasEmpty = redis.call('EXISTS', prioKey) == 0
  end
  local seq = redis.call('INCR', prioSeqKey)
  local score = (100 - level) * PRIO_LEVEL_SPAN + PRIO_MIDDLE
  if atFront then
    score = score - seq
  else
    score = score + seq
  end
  redis.call('ZADD', prioKey, string.format('%.0f', score), id)
end

-- Whether this call's adds turned an empty priority ZSET non-empty: idle workers are then woken
-- as for the pending list (an extra wake-up while the list has tasks is harmless).
local function prioritizedTurnedNonEmpty()
  return prioWasEmpty == true
end

-- Takes up to count ids off the front of the priority ZSET (only levels above normal when
-- aboveNormalOnly), in run order, and pushes them onto the active list as successive RPOPLPUSHs
-- would. Returns the ids. ZPOPMIN rather than ZRANGE + ZREM: removing the members at the head of
-- the skiplist needs no lookup by member (measured: ZREM of the same ids took most of the dequeue's
-- Redis time on a 100,000-task set).
local function takePrioritized(prioKey, activeKey, count, aboveNormalOnly)
  if aboveNormalOnly and count > 0 then
    count = math.min(count, redis.call('ZCOUNT', prioKey, '-inf', PRIO_ABOVE_NORMAL_END))
  end
  if count <= 0 then
    return {}
  end
  local popped = redis.call('ZPOPMIN', prioKey, count)
  local ids = {}
  for i = 1, #popped, 2 do
    ids[#ids + 1] = popped[i]
  end
  -- In slices: unpack() must not pass Lua's C stack more values than it takes.
  for i = 1, #ids, 1000 do
    redis.call('LPUSH', activeKey, unpack(ids, i, math.min(i + 999, #ids)))
  end
  return ids
end

-- Puts a pending task id where its level says: the priority ZSET, or the pending list (at the
-- back, LPUSH, or at the front, RPUSH, when atFront). Returns the list's length after a push to
-- the list (1: the list was empty), or 0 after a push to the priority ZSET.
local function pushPending(pendingKey, prioKey, prioSeqKey, id, level, atFront)
  if level then
    addPrioritized(prioKey, prioSeqKey, id, level, atFront)
    return 0
  end
  if atFront then
    return redis.call('RPUSH', pendingKey, id)
  end
  return redis.call('LPUSH', pendingKey, id)
end

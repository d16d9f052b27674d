-- Enqueues one task under a debounce key (taskmill extension, docs/workflows.md "Debounce and
-- throttle"): tasks with the same key in the same queue within a window collapse into one. The
-- window starts at the enqueue that finds no open window (it never slides, so a steady stream of
-- enqueues still runs a task every window) and is recorded in the debounce record, a HASH
-- { id, until } that expires with the window.
--
-- - debounce: the first enqueue of a window creates a scheduled task due when the window ends
--   (an ordinary asynq scheduled task, which Go peers see as such); a later enqueue within the
--   window, while that task is still scheduled, replaces its message (the latest payload and
--   options run) under the same id. Once the task has left the scheduled set (forwarded, run,
--   deleted, canceled) it is never modified: the next enqueue opens a new window.
-- - throttle: the first enqueue of a window creates a pending task (it runs now); later ones in
--   the window are dropped.
--
-- The client sends the task's message without its id (protobuf field 3); the script appends the
-- id field of the task that survives, so the replaced message carries the surviving id. Protobuf
-- decoders (Go's and ours) accept fields in any order.
--
-- Priority (lib/priority.lua): the task carries the level of the call that created it or last
-- replaced its message (x_prio); a throttled task waits at its level as any enqueued task.
--
-- The window is on the Redis server's clock (TIME), so producers with different clocks agree on
-- it; the task's due time is that end, in Unix ms, as every due time is.
--
-- KEYS[1] -> asynq:{<qname>}:x:debounce:<key> (HASH id, until: window end, unix ms)
-- KEYS[2] -> asynq:{<qname>}:pending
-- KEYS[3] -> asynq:{<qname>}:scheduled
-- KEYS[4] -> asynq:{<qname>}:x:due (ZSET task id -> precise due time, unix ms; see lib/due.lua)
-- KEYS[5] -> asynq:{<qname>}:x:prio (ZSET of pending tasks with a level other than normal)
-- KEYS[6] -> asynq:{<qname>}:x:prio-seq (the priority ZSET's sequence counter)
-- ARGV[1] -> task key prefix asynq:{<qname>}:t:
-- ARGV[2] -> id of the task to create when this call opens a window
-- ARGV[3] -> the encoded TaskMessage without its id field
-- ARGV[4] -> window length, ms
-- ARGV[5] -> mode: 'debounce' or 'throttle'
-- ARGV[6] -> current unix time in nanoseconds (pending_since of a throttled task)
-- ARGV[7] -> wake-up channel asynq:{<qname>}:x:wake
-- ARGV[8] -> due channel asynq:{<qname>}:x:due
-- ARGV[9] -> priority level 0-100, or empty for normal
--
-- Returns { id, code, until }: code 0 when this call created task id (it opened a window), 1 when
-- it collapsed into the window's task id (debounce: its message replaced; throttle: dropped), -1
-- when the id to create is taken by another task (nothing changed); until is the window's end
-- (unix ms; with debounce the task's due time), 0 with code -1.

--!include lib/idle.lua
--!include lib/write-task.lua
--!include lib/due.lua
--!include lib/priority.lua
local recordKey = KEYS[1]
local pendingKey = KEYS[2]
local scheduledKey = KEYS[3]
local dueKey = KEYS[4]
local prioKey = KEYS[5]
local prioSeqKey = KEYS[6]
local taskKeyPrefix = ARGV[1]
local newId = ARGV[2]
local body = ARGV[3]
local windowMs = tonumber(ARGV[4])
local mode = ARGV[5]
local nowNanos = ARGV[6]
local wakeChannel = ARGV[7]
local dueChannel = ARGV[8]
local priorityArg = ARGV[9]
local level = priorityLevel(priorityArg)

-- The message with its id field (field 3, length-delimited: tag 0x1a) appended.
local function withId(id)
  local length = #id
  local varint = ''
  while length >= 128 do
    varint = varint .. string.char(128 + length % 128)
    length = math.floor(length / 128)
  end
  return body .. '\26' .. varint .. string.char(length) .. id
end

local now = redisTimeMs()
local record = redis.call('HMGET', recordKey, 'id', 'until')
local openId = record[1]
if openId and tonumber(record[2]) > now then
  if openId == newId then
    -- This very call, sent again after an unanswered attempt.
    return { openId, 0, record[2] }
  end
  if mode == 'throttle' then
    return { openId, 1, record[2] }
  end
  local openKey = taskKeyPrefix .. openId
  if redis.call('HGET', openKey, 'state') == 'scheduled' then
    redis.call('HSET', openKey, 'msg', withId(openId))
    if level then
      redis.call('HSET', openKey, 'x_prio', level)
    else
      redis.call('HDEL', openKey, 'x_prio')
    end
    return { openId, 1, record[2] }
  end
end

local taskKey = taskKeyPrefix .. newId
if redis.call('EXISTS', taskKey) == 1 then
  return { newId, -1, '0' }
end
local untilMs = now + windowMs
if mode == 'throttle' then
  writeTask(taskKey, withId(newId), 'pending', nowNanos, '')
  if pushPending(pendingKey, prioKey, prioSeqKey, newId, level, false) == 1 or prioritizedTurnedNonEmpty() then
    redis.call('PUBLISH', wakeChannel, '1')
  end
else
  writeTask(taskKey, withId(newId), 'scheduled', nil, '')
  addDue(scheduledKey, dueKey, newId, string.format('%d', untilMs))
  announceDue(dueChannel)
end
if level then
  redis.call('HSET', taskKey, 'x_prio', level)
end
local untilText = string.format('%d', untilMs)
redis.call('HSET', recordKey, 'id', newId, 'until', untilText)
redis.call('PEXPIRE', recordKey, windowMs)
return { newId, 0, untilText }

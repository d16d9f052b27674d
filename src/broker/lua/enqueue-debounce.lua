-- Enqueues tasks under debounce keys, one queue per call, (taskmill extension, docs/workflows.md "Debounce and
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
-- The window is on the Redis server's clock (TIME, read once per call), so producers with
-- different clocks agree on it; the task's due time is that end, in Unix ms, as every due time is.
-- Tasks are decided in index order, so two enqueues with one key in the same call collapse as two
-- calls would. As in enqueue.lua, a batch is two arguments (an index and the concatenated
-- messages), and idle workers are woken once when this call made the pending list non-empty.
--
-- KEYS[1] -> asynq:{<qname>}:pending
-- KEYS[2] -> asynq:{<qname>}:scheduled
-- KEYS[3] -> asynq:{<qname>}:x:due (ZSET task id -> precise due time, unix ms; see lib/due.lua)
-- KEYS[4] -> asynq:{<qname>}:x:prio (ZSET of pending tasks with a level other than normal)
-- KEYS[5] -> asynq:{<qname>}:x:prio-seq (the priority ZSET's sequence counter)
-- ARGV[1] -> task key prefix asynq:{<qname>}:t:
-- ARGV[2] -> debounce record key prefix asynq:{<qname>}:x:debounce: (the key is appended; each
--            record is a HASH { id, until: window end, unix ms })
-- ARGV[3] -> current unix time in nanoseconds (pending_since of a throttled task)
-- ARGV[4] -> wake-up channel asynq:{<qname>}:x:wake
-- ARGV[5] -> due channel asynq:{<qname>}:x:due
-- ARGV[6] -> the tasks' index: per task
--            "<#key>:<key><#id>:<id><#msg>:<window ms>:<mode>:<priority>:<keep>:", the mode 'd'
--            (debounce) or 't' (throttle), the priority a level 0-100 or empty for normal, keep the
--            outcome record TTL in ms for the x_keep field (lib/task-ended.lua's contract; "0" =
--            none: the created task, or the task whose message this task replaces, gets it), lengths
--            in bytes
-- ARGV[7] -> the tasks' encoded TaskMessages without their id fields, concatenated in index order
--
-- Returns three values per task, in order: the surviving task's id; a code, 0 when this task
-- created it (it opened a window), 1 when it collapsed into the window's task (debounce: its
-- message replaced; throttle: dropped), -1 when the id to create is taken by another task
-- (nothing changed); and the window's end (unix ms; with debounce the task's due time), '0' with
-- code -1.

--!include lib/idle.lua
--!include lib/write-task.lua
--!include lib/task-fields.lua
--!include lib/due.lua
--!include lib/priority.lua
--!include lib/batch-index.lua
local pendingKey = KEYS[1]
local scheduledKey = KEYS[2]
local dueKey = KEYS[3]
local prioKey = KEYS[4]
local prioSeqKey = KEYS[5]
local taskKeyPrefix = ARGV[1]
local recordKeyPrefix = ARGV[2]
local nowNanos = ARGV[3]
local wakeChannel = ARGV[4]
local dueChannel = ARGV[5]
local index = ARGV[6]
local messages = ARGV[7]

-- The message with its id field (field 3, length-delimited: tag 0x1a) appended.
local function withId(body, id)
  local length = #id
  local varint = ''
  while length >= 128 do
    varint = varint .. string.char(128 + length % 128)
    length = math.floor(length / 128)
  end
  return body .. '\26' .. varint .. string.char(length) .. id
end

local number, counted, message, more = batchReader(index, messages)

local now = redisTimeMs()
-- Whether a push found the pending list empty.
local wake = false

-- Decides one task; returns its id, code and window end.
local function debounceOne(recordKey, newId, body, windowMs, mode, level, keep)
  local record = redis.call('HMGET', recordKey, 'id', 'until')
  local openId = record[1]
  if openId and tonumber(record[2]) > now then
    if openId == newId then
      -- This very task, sent again after an unanswered attempt.
      return openId, 0, record[2]
    end
    if mode == 't' then
      return openId, 1, record[2]
    end
    local openKey = taskKeyPrefix .. openId
    if redis.call('HGET', openKey, 'state') == 'scheduled' then
      redis.call('HSET', openKey, 'msg', withId(body, openId))
      if level then
        redis.call('HSET', openKey, 'x_prio', level)
      else
        redis.call('HDEL', openKey, 'x_prio')
      end
      if keep ~= '0' then
        redis.call('HSET', openKey, 'x_keep', keep)
      end
      return openId, 1, record[2]
    end
  end
  local taskKey = taskKeyPrefix .. newId
  if redis.call('EXISTS', taskKey) == 1 then
    return newId, -1, '0'
  end
  local untilText = string.format('%d', now + windowMs)
  if mode == 't' then
    writeTask(taskKey, withId(body, newId), 'pending', nowNanos, '', level, keep)
    if pushPending(pendingKey, prioKey, prioSeqKey, newId, level, false) == 1 then
      wake = true
    end
  else
    writeTask(taskKey, withId(body, newId), 'scheduled', nil, '', level, keep)
    addDue(scheduledKey, dueKey, newId, untilText)
  end
  dropEarlierRecord(taskKeyPrefix, newId, keep)
  redis.call('HSET', recordKey, 'id', newId, 'until', untilText)
  redis.call('PEXPIRE', recordKey, windowMs)
  return newId, 0, untilText
end

local results = {}
while more() do
  local key = counted()
  local newId = counted()
  local body = message()
  local windowMs = tonumber(number())
  local mode = number()
  local level = priorityLevel(number())
  local keep = number()
  local id, code, untilText = debounceOne(recordKeyPrefix .. key, newId, body, windowMs, mode, level, keep)
  results[#results + 1] = id
  results[#results + 1] = code
  results[#results + 1] = untilText
end
if wake or prioritizedTurnedNonEmpty() then
  redis.call('PUBLISH', wakeChannel, '1')
end
announceDue(dueChannel)
return results

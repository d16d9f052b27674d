-- Moves due tasks of one queue from its scheduled and retry ZSETs into the pending list (or back
-- into their group when the task hash has a 'group' field), and says when the next one is due.
-- Mirrors asynq's forward script (run for both sets), with one taskmill extension, precise due
-- times, and one fix: a task going back into its group registers the group name in the groups set
-- (asynq's does not, so the task waited, unseen by every aggregator, until another task joined the
-- group; Go peers now simply find the group registered).
--
-- A task our clients or servers scheduled has a record in the due ZSET (unix ms, lib/due.lua) and
-- moves once that time has come, never before, whereas asynq's whole-second score alone would move
-- it up to a second early. A record counts only while the task's score in scheduled or retry is
-- floor(record / 1000); any other record (the task left by a path that does not remove records:
-- a delete or run from an inspector, Go's scripts) is dropped here once its time has passed.
--
-- Tasks without a record (written by Go producers) follow asynq's rule: due when score <= now in
-- whole seconds. Those whose score is this very second are looked at in pages of at most 100 (they
-- share that second with not-yet-due tasks that have a record, which are skipped); any left over
-- move in the next second, when their score is below now.
--
-- KEYS[1] -> asynq:{<qname>}:scheduled
-- KEYS[2] -> asynq:{<qname>}:retry
-- KEYS[3] -> asynq:{<qname>}:pending
-- KEYS[4] -> asynq:{<qname>}:x:due (ZSET task id -> precise due time, unix ms)
-- KEYS[5] -> asynq:{<qname>}:groups
-- KEYS[6] -> asynq:{<qname>}:x:prio (ZSET of pending tasks with a level other than normal)
-- KEYS[7] -> asynq:{<qname>}:x:prio-seq (the priority ZSET's sequence counter)
-- ARGV[1] -> now, whole unix ms
-- ARGV[2] -> task key prefix asynq:{<qname>}:t:
-- ARGV[3] -> now, unix nanoseconds (pending_since)
-- ARGV[4] -> group key prefix asynq:{<qname>}:g:
-- ARGV[5] -> wake-up channel asynq:{<qname>}:x:wake (taskmill extension; published when the
--            pending list was empty, as in enqueue.lua)
-- ARGV[6] -> the most tasks to look at in this call
--
-- A task whose hash has a priority level (x_prio, lib/priority.lua) goes back to the back of its
-- level in the priority ZSET instead of the pending list (Go's forwarder, which does not know the
-- field, pushes it to the list: it then runs at the normal level).
--
-- Returns {moved, more, next, dueLeft}: how many tasks moved; 1 when the call stopped at its limit
-- (call again), else 0; when it is 0, the unix ms at which the next task becomes due (-1: none);
-- when it is 1, how many due records are left (the caller sizes its next pipelined calls by it).

--!include lib/priority.lua
--!include lib/due-record.lua
local scheduledKey = KEYS[1]
local retryKey = KEYS[2]
local pendingKey = KEYS[3]
local dueKey = KEYS[4]
local groupsKey = KEYS[5]
local prioKey = KEYS[6]
local prioSeqKey = KEYS[7]
local nowMsText = ARGV[1]
local taskKeyPrefix = ARGV[2]
local nowNanos = ARGV[3]
local groupKeyPrefix = ARGV[4]
local wakeChannel = ARGV[5]
local limit = tonumber(ARGV[6])

local nowMs = tonumber(nowMsText)
local nowSec = math.floor(nowMs / 1000)
local nowSecText = string.format('%d', nowSec)
local moved = 0
local pushed = 0
local more = 0

-- Pushes and set removals wait for the end of each step and go out as one variadic command each:
-- a forward of many tasks then costs Redis about half the commands. A variadic LPUSH leaves the
-- same order as one LPUSH per id.
local pushIds = {}
local removals = {}

local function removeLater(key, id)
  local ids = removals[key]
  if not ids then
    ids = {}
    removals[key] = ids
  end
  ids[#ids + 1] = id
end

local function flush()
  if #pushIds > 0 then
    redis.call('LPUSH', pendingKey, unpack(pushIds))
    pushed = pushed + #pushIds
    pushIds = {}
  end
  for key, ids in pairs(removals) do
    redis.call('ZREM', key, unpack(ids))
  end
  removals = {}
end

-- dueRecordHandled: the caller removes the task's due record itself (step 1 drops the records it
-- read with one ZREMRANGEBYRANK). plain: the due record says the task has neither a group nor a
-- priority level (lib/due.lua), so its hash need not be read.
local function move(sourceKey, id, dueRecordHandled, plain)
  local taskKey = taskKeyPrefix .. id
  local group, level
  if not plain then
    local fields = redis.call('HMGET', taskKey, 'group', 'x_prio')
    group = fields[1]
    level = priorityLevel(fields[2])
  end
  if group and group ~= '' then
    redis.call('ZADD', groupKeyPrefix .. group, nowSecText, id)
    redis.call('HSET', taskKey, 'state', 'aggregating')
    redis.call('SADD', groupsKey, group)
  elseif level then
    addPrioritized(prioKey, prioSeqKey, id, level, false)
    redis.call('HSET', taskKey, 'state', 'pending', 'pending_since', nowNanos)
  else
    pushIds[#pushIds + 1] = id
    redis.call('HSET', taskKey, 'state', 'pending', 'pending_since', nowNanos)
  end
  removeLater(sourceKey, id)
  if not dueRecordHandled then
    removeLater(dueKey, id)
  end
  moved = moved + 1
end

-- Whether score (a ZSCORE reply) is the whole second of a record at recordMs.
local function sameSecond(score, recordMs)
  return score and tonumber(score) == math.floor(recordMs / 1000)
end

-- 1. Tasks whose precise due time has come. Their scores are read with one ZMSCORE per set for
-- the whole batch (the retry set's only when a task is not in the scheduled one), and the records
-- are dropped with one range removal: a ZSCORE and a ZREM per task cost a quarter of forwarding
-- many tasks at once (instructions counted in redis-server with callgrind).
local due = redis.call('ZRANGE', dueKey, '-inf', nowMsText, 'BYSCORE', 'LIMIT', 0, limit, 'WITHSCORES')
if #due > 0 then
  local dueIds = {}
  for i = 1, #due, 2 do
    dueIds[#dueIds + 1] = due[i]
  end
  local scheduledScores = redis.call('ZMSCORE', scheduledKey, unpack(dueIds))
  local retryScores
  for j, id in ipairs(dueIds) do
    local score = due[2 * j]
    local recordMs = dueRecordMs(score)
    if sameSecond(scheduledScores[j], recordMs) then
      move(scheduledKey, id, true, isPlainRecord(score))
    else
      retryScores = retryScores or redis.call('ZMSCORE', retryKey, unpack(dueIds))
      if sameSecond(retryScores[j], recordMs) then
        move(retryKey, id, true, isPlainRecord(score))
      end
    end
  end
  -- Every record read is done with (moved, or stale): they are the set's first ranks, since
  -- nothing above changed the set.
  redis.call('ZREMRANGEBYRANK', dueKey, 0, #dueIds - 1)
end
flush()
local left = limit - #due / 2
if left <= 0 then
  more = 1
end

-- 2. asynq's whole-second rule. A score below this second is due whatever its record says.
for _, sourceKey in ipairs({ scheduledKey, retryKey }) do
  if left > 0 then
    local ids = redis.call('ZRANGE', sourceKey, '-inf', '(' .. nowSecText, 'BYSCORE', 'LIMIT', 0, left)
    for _, id in ipairs(ids) do
      move(sourceKey, id)
    end
    flush()
    left = left - #ids
    if left <= 0 then
      more = 1
    end
  end
end

-- 3. Scores of this very second: due unless a record of this second says later.
for _, sourceKey in ipairs({ scheduledKey, retryKey }) do
  if left > 0 then
    local page = math.min(left, 100)
    local ids = redis.call('ZRANGE', sourceKey, nowSecText, nowSecText, 'BYSCORE', 'LIMIT', 0, page)
    local movedHere = 0
    for _, id in ipairs(ids) do
      local recordMs = dueRecordMs(redis.call('ZSCORE', dueKey, id))
      if not (recordMs and recordMs > nowMs and math.floor(recordMs / 1000) == nowSec) then
        move(sourceKey, id)
        movedHere = movedHere + 1
      end
    end
    flush()
    left = left - #ids
    -- A full page that moved nothing would come back the same: only ask again after progress.
    if #ids == page and movedHere > 0 then
      more = 1
    end
  end
end

if (pushed > 0 and redis.call('LLEN', pendingKey) == pushed) or prioritizedTurnedNonEmpty() then
  redis.call('PUBLISH', wakeChannel, '1')
end
if more == 1 then
  return { moved, 1, -1, redis.call('ZCOUNT', dueKey, '-inf', nowMsText) }
end

-- The next due time: the earliest record, or the whole second of the first task of each set. When
-- that task has its record, the record counts instead, and other tasks of its second (Go's, due at
-- the second's start) move in the next second at the latest, or at the poll. A score of this very
-- second left here is a task with a later record, or one a page did not reach: the next second.
local nextMs = math.huge
local first = redis.call('ZRANGE', dueKey, 0, 0, 'WITHSCORES')
if first[2] then
  nextMs = dueRecordMs(first[2])
end
for _, sourceKey in ipairs({ scheduledKey, retryKey }) do
  local head = redis.call('ZRANGE', sourceKey, 0, 0, 'WITHSCORES')
  if head[2] then
    local sec = tonumber(head[2])
    local recordMs = dueRecordMs(redis.call('ZSCORE', dueKey, head[1]))
    if sec <= nowSec or (recordMs and math.floor(recordMs / 1000) == sec) then
      sec = math.max(sec, nowSec) + 1
    end
    nextMs = math.min(nextMs, sec * 1000)
  end
end
if nextMs == math.huge then
  return { moved, 0, -1 }
end
return { moved, 0, nextMs }

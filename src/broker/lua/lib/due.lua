-- Library: precise due times of scheduled and retry tasks (taskmill extension; see forward.lua and
-- docs/internals.md "Tasks on time"). asynq scores the scheduled and retry ZSETs in whole unix
-- seconds and Go's Inspector parses them as integers, so the score stays floor(due / 1000) and the
-- due time in ms goes to the due ZSET (task id -> unix ms) beside it. The record counts only while
-- the task's score in scheduled or retry is floor(record / 1000) (forward.lua checks), so a record
-- that a path leaves behind when the task moves on is harmless.
--
-- A record of a task with neither a group nor a priority level is scored half a millisecond before
-- its due time (dueMs - 0.5): the forwarder then moves it without reading its hash, and since the
-- forwarder's now is a whole ms, the record still comes due exactly at dueMs. Readers take the
-- record's time with lib/due-record.lua. Other records (a retry, which does not know the task's
-- fields) keep the whole ms, and the forwarder reads their hash.
--
-- The due channel tells waiting forwarders about a due time earlier than every record they could
-- have read, once per script call: the earliest this call added, when it is earlier than the
-- earliest record before the call.

--!include lib/due-record.lua

-- The earliest record before this call's first addDue (math.huge when none), read once.
local dueBefore = nil
-- The earliest due time this call added, or nil.
local dueAdded = nil

-- Adds task id to setKey (scheduled or retry) with asynq's whole-second score, and its precise
-- due time dueMs (a string of whole unix ms) to dueKey; plain: the task has neither a group nor a
-- priority level (see the top of this file).
local function addDue(setKey, dueKey, id, dueMs, plain)
  local ms = tonumber(dueMs)
  if dueBefore == nil then
    local first = redis.call('ZRANGE', dueKey, 0, 0, 'WITHSCORES')
    dueBefore = dueRecordMs(first[2]) or math.huge
  end
  redis.call('ZADD', setKey, string.format('%d', math.floor(ms / 1000)), id)
  redis.call('ZADD', dueKey, plain and string.format('%d.5', ms - 1) or dueMs, id)
  if dueAdded == nil or ms < dueAdded then
    dueAdded = ms
  end
end

-- Publishes the earliest due time this call added on channel when it is earlier than every
-- record before the call. PUBLISH creates no key: Go peers see nothing of it.
local function announceDue(channel)
  if dueAdded and dueAdded < dueBefore then
    redis.call('PUBLISH', channel, string.format('%d', dueAdded))
  end
end

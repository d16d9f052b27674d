-- Library: reading a precise due record (the x:due ZSET, see lib/due.lua). A record of a task with
-- neither a group nor a priority level is scored half a millisecond before its due time; any
-- other record holds the whole ms.

-- The due time (whole unix ms) of a record's score (a ZSCORE/WITHSCORES reply, or nil).
local function dueRecordMs(score)
  return score and math.ceil(tonumber(score))
end

-- Whether a record's score marks a task with neither a group nor a priority level.
local function isPlainRecord(score)
  return tonumber(score) % 1 ~= 0
end

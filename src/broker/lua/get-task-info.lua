-- Reads one task for the inspector. Mirrors asynq's getTaskInfo script, plus the task's priority
-- level (taskmill extension, lib/priority.lua) and its progress (asynq:{<qname>}:x:progress:<id>)
-- when it reported any (x_progress).
--
-- KEYS[1] -> asynq:{<qname>}:t:<task_id>
-- ARGV[1] -> task id
-- ARGV[2] -> now, unix seconds
-- ARGV[3] -> queue key prefix asynq:{<qname>}:
--
-- Returns msg, state, next process time (unix seconds; 0 = none), result, priority level ('' =
-- normal), progress JSON ('' = none); or nil when missing.

local taskKey = KEYS[1]
local id = ARGV[1]
local now = ARGV[2]
local queueKeyPrefix = ARGV[3]

if redis.call('EXISTS', taskKey) == 0 then
  return nil
end
local fields = redis.call('HMGET', taskKey, 'msg', 'state', 'result', 'x_prio', 'x_progress')
local state = fields[2]
local nextProcessAt = 0
if state == 'scheduled' or state == 'retry' then
  nextProcessAt = redis.call('ZSCORE', queueKeyPrefix .. state, id)
elseif state == 'pending' then
  nextProcessAt = now
end
local progress = ''
if fields[5] then
  progress = redis.call('GET', queueKeyPrefix .. 'x:progress:' .. id) or ''
end
return { fields[1], state, nextProcessAt, fields[3] or '', fields[4] or '', progress }

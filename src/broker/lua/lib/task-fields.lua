-- Library: a new task's taskmill fields, written by the scripts that create tasks from a
-- producer's options (enqueue.lua, enqueue-debounce.lua, scheduler-enqueue.lua), with the hash in
-- one HSET (lib/write-task.lua) or, for a task whose hash another library wrote (a grouped task),
-- in one of their own.

-- Appends a new task's taskmill fields (Go ignores them) to an HSET's arguments, from index n + 1:
-- its priority level (nil for normal; see lib/priority.lua) and keep, its outcome record's TTL in
-- ms ("0" = none; lib/task-ended.lua's x_keep contract). Returns the new argument count.
local function appendTaskFields(args, n, level, keep)
  if level then
    args[n + 1] = 'x_prio'
    args[n + 2] = level
    n = n + 2
  end
  if keep ~= '0' then
    args[n + 1] = 'x_keep'
    args[n + 2] = keep
    n = n + 2
  end
  return n
end

-- Deletes the outcome record an earlier task with this id left, when the new task keeps one, so
-- that nobody reads it as this task's outcome.
local function dropEarlierRecord(taskKeyPrefix, id, keep)
  if keep ~= '0' then
    redis.call('DEL', string.sub(taskKeyPrefix, 1, -3) .. 'x:result:' .. id)
  end
end

-- Writes the taskmill fields of a task whose hash another library wrote (a grouped task's, by
-- lib/aggregation.lua's addToGroup), in one HSET when it has any.
local function writeTaskFields(taskKey, level, keep)
  local args = { taskKey }
  local n = appendTaskFields(args, 1, level, keep)
  if n > 1 then
    redis.call('HSET', unpack(args, 1, n))
  end
end

-- Library: the rest of a new task's taskmill fields, for the scripts that create tasks from a
-- producer's options (enqueue.lua, enqueue-debounce.lua, scheduler-enqueue.lua). The fields
-- themselves go into the task's one HSET (lib/write-task.lua), except for a task whose hash another
-- library wrote (a grouped task), which gets an HSET of its own here.

--!include lib/write-task.lua

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

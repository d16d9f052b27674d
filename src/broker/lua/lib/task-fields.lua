-- Library: a new task's taskmill fields, written by the scripts that create tasks from a
-- producer's options (enqueue.lua, enqueue-debounce.lua, scheduler-enqueue.lua).

-- Writes a new task's taskmill fields (Go ignores them): its priority level (nil for normal; see
-- lib/priority.lua) and keep, its outcome record's TTL in ms ("0" = none; lib/task-ended.lua's
-- x_keep contract). A record an earlier task with this id left is deleted, so that nobody reads
-- it as this task's outcome.
local function writeTaskFields(taskKeyPrefix, id, level, keep)
  local taskKey = taskKeyPrefix .. id
  if level then
    redis.call('HSET', taskKey, 'x_prio', level)
  end
  if keep ~= '0' then
    redis.call('HSET', taskKey, 'x_keep', keep)
    redis.call('DEL', string.sub(taskKeyPrefix, 1, -3) .. 'x:result:' .. id)
  end
end

-- Library: writing a new task's hash, as asynq's enqueue scripts write it (enqueue.lua for
-- clients and aggregates, scheduler-enqueue.lua for periodic ticks).

-- Writes a task's hash: its message and state, the time it went pending when it is pending, and
-- its uniqueness lock key when it has one (last, as asynq writes them).
local function writeTask(taskKey, msg, state, pendingSince, uniqueKey)
  if pendingSince and uniqueKey ~= '' then
    redis.call('HSET', taskKey, 'msg', msg, 'state', state, 'pending_since', pendingSince, 'unique_key', uniqueKey)
  elseif pendingSince then
    redis.call('HSET', taskKey, 'msg', msg, 'state', state, 'pending_since', pendingSince)
  elseif uniqueKey ~= '' then
    redis.call('HSET', taskKey, 'msg', msg, 'state', state, 'unique_key', uniqueKey)
  else
    redis.call('HSET', taskKey, 'msg', msg, 'state', state)
  end
end

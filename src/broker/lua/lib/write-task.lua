-- Library: writing a new task's hash, as asynq's enqueue scripts write it (enqueue.lua for
-- clients and aggregates, scheduler-enqueue.lua for periodic ticks, lib/dependents.lua for
-- dependents that become runnable).

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

-- Writes a task's hash in one HSET: its message and state, the time it went pending when it is
-- pending, its uniqueness lock key when it has one (in asynq's order), and, when keep is given,
-- the taskmill fields of a task created from a producer's options (the caller drops an earlier
-- record with lib/task-fields.lua's dropEarlierRecord).
local function writeTask(taskKey, msg, state, pendingSince, uniqueKey, level, keep)
  local args = { taskKey, 'msg', msg, 'state', state }
  local n = 5
  if pendingSince then
    args[6] = 'pending_since'
    args[7] = pendingSince
    n = 7
  end
  if uniqueKey ~= '' then
    args[n + 1] = 'unique_key'
    args[n + 2] = uniqueKey
    n = n + 2
  end
  if keep then
    n = appendTaskFields(args, n, level, keep)
  end
  redis.call('HSET', unpack(args, 1, n))
end

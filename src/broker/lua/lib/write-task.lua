-- Library: writing a new task's hash, as asynq's enqueue scripts write it (enqueue.lua for
-- clients and aggregates, scheduler-enqueue.lua for periodic ticks, lib/dependents.lua for
-- dependents that become runnable).

--!include lib/task-fields.lua

-- Writes a task's hash in one HSET: its message and state, the time it went pending when it is
-- pending, its uniqueness lock key when it has one (in asynq's order), and, when keep is given,
-- the taskmill fields of a task created from a producer's options (lib/task-fields.lua; the
-- caller drops an earlier record with dropEarlierRecord).
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

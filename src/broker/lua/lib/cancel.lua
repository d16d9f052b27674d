-- Library: cancelation without retry (taskmill extension, docs/workflows.md "Cancel"). A cancel
-- with retry off sets the field x_cancel on an active task's hash in the same script that
-- publishes asynq:cancel, so every script that would run the task again (retry, archive,
-- requeue; the recoverer goes through retry and archive) finds the decision there and ends the
-- task as canceled instead, whichever of them comes first. The field dies with the hash; Go's
-- scripts rewrite only msg and state, so it also survives a Go worker's retry of the task.

--!include lib/task-removal.lua
--!include lib/dependents.lua
--!include lib/task-ended.lua

-- The hash field holding the decision.
local CANCEL_FIELD = 'x_cancel'

-- Whether a cancel without retry was decided for the task of this hash.
local function cancelDecided(taskKey)
  return redis.call('HEXISTS', taskKey, CANCEL_FIELD) == 1
end

-- Ends a task that left its container as canceled: the task-ended hook (outcome record
-- 'canceled', progress clean-up), then its hash, due record and unique lock go (a canceled task is
-- not kept; see docs/workflows.md for why).
local function endCanceled(taskKeyPrefix, dueKey, id)
  local hasChildren = taskEnded(taskKeyPrefix, id, 'canceled', nil, nil)[4]
  deleteTaskHash(taskKeyPrefix, dueKey, id)
  if hasChildren then
    dependentsOnEnd(queueOfTaskPrefix(taskKeyPrefix), id, 'canceled', depRedisNowMs())
  end
end

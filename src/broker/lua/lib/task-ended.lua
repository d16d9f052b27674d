-- Library: the one hook where a task ends (taskmill extension, docs/workflows.md). Every script
-- that ends a task calls taskEnded before it deletes or rewrites the task's hash: the worker's
-- acknowledgement (done-and-dequeue.lua, completed or deleted), archive.lua, the Inspector's
-- delete and archive scripts, and cancel-without-retry.
--
-- It reads the task hash's extension fields with ONE HMGET (the hot path pays one command per
-- finished task and nothing more when none is set; a helper that needs another per-task field
-- adds it to that HMGET), then:
--   - x_keep (a TTL in ms, set by the enqueue option resultTTL or by waitForResult on a live task):
--     writes the outcome record asynq:{<qname>}:x:result:<id>, a HASH { state, result?, error?,
--     at: unix ms on Redis's clock } with that PEXPIRE, and publishes the task id on
--     asynq:{<qname>}:x:outcome so that waiters read it at once;
--   - x_progress (set by progress.lua): deletes asynq:{<qname>}:x:progress:<id>, so a task's
--     progress goes with it.
-- Go peers never read these keys, and the extension fields are ignored by Go's decoders.
--
-- Keys are built from the task key prefix asynq:{<qname>}:t: that every caller has, so they share
-- the queue's hash slot.

--!include lib/redis-time.lua

-- The queue key prefix asynq:{<qname>}: of a task key prefix asynq:{<qname>}:t:.
local function queuePrefixOf(taskKeyPrefix)
  return string.sub(taskKeyPrefix, 1, -3)
end

-- Writes the outcome record (replacing any record a previous task with this id left) and
-- announces it on the queue's outcome channel.
local function writeOutcome(queueKeyPrefix, id, state, result, errorMessage, keepMs)
  local recordKey = queueKeyPrefix .. 'x:result:' .. id
  local fields = { 'state', state, 'at', string.format('%d', redisTimeMs()) }
  if result then
    fields[#fields + 1] = 'result'
    fields[#fields + 1] = result
  end
  if errorMessage and errorMessage ~= '' then
    fields[#fields + 1] = 'error'
    fields[#fields + 1] = errorMessage
  end
  -- HSET counts the fields it added: fewer than given means an older record was there (a task
  -- with this id that a Go producer enqueued, which does not drop it), whose fields must not mix
  -- with these. Checking the count spares the usual case a DEL.
  if redis.call('HSET', recordKey, unpack(fields)) * 2 ~= #fields then
    redis.call('DEL', recordKey)
    redis.call('HSET', recordKey, unpack(fields))
  end
  redis.call('PEXPIRE', recordKey, keepMs)
  redis.call('PUBLISH', queueKeyPrefix .. 'x:outcome', id)
end

-- Called once per task that ends, while its hash still exists. state: 'completed', 'archived',
-- 'canceled' or 'deleted'. result: the bytes the handler returned, or nil to take (for a
-- completed task) the hash's result field, ctx.writeResult's. errorMessage: the last error (archived, canceled, a revoke),
-- or nil. Returns the HMGET reply { x_keep, x_progress, result, x_children }: callers that settle
-- dependents (lib/dependents.lua) read x_children there instead of paying another command.
local function taskEnded(taskKeyPrefix, id, state, result, errorMessage)
  local ext = redis.call('HMGET', taskKeyPrefix .. id, 'x_keep', 'x_progress', 'result', 'x_children')
  local keep = ext[1]
  local progressed = ext[2]
  if keep or progressed then
    local queueKeyPrefix = queuePrefixOf(taskKeyPrefix)
    if progressed then
      redis.call('DEL', queueKeyPrefix .. 'x:progress:' .. id)
    end
    local keepMs = keep and tonumber(keep)
    if keepMs and keepMs > 0 then
      if result == nil and state == 'completed' and ext[3] then
        result = ext[3]
      end
      writeOutcome(queueKeyPrefix, id, state, result, errorMessage, keepMs)
    end
  end
  return ext
end

-- The Inspector's removals (delete, archive) of a task in state "state": a live task ends here as
-- endState; an archived or completed one ended when it got there, and its record says so.
-- Returns the task's x_children field (whether it has dependents): a live task's from the hook's
-- HMGET; an ended one's only when withChildren is true (callers that settle dependents), as the
-- hook did not run for it.
local function endRemovedTask(taskKeyPrefix, id, state, endState, withChildren)
  if state ~= 'archived' and state ~= 'completed' then
    return taskEnded(taskKeyPrefix, id, endState, nil, nil)[4]
  end
  if withChildren then
    return redis.call('HGET', taskKeyPrefix .. id, 'x_children')
  end
  return nil
end

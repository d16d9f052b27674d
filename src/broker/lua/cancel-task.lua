-- Cancels one task (taskmill extension; asynq's inspector only publishes on asynq:cancel). With
-- retry on it does what asynq's CancelProcessing does, for an active task only: publish its id
-- on asynq:cancel, so the server running it aborts the attempt, which is then retried per policy.
-- With retry off:
--   - an active task gets the cancel decision (lib/cancel.lua) and the publish, in this one call,
--     so no script can run the task again once the publish is out: its server's retry or
--     archive, a requeue, or the recoverer after that server died all end it as canceled;
--   - a pending, scheduled, retry or aggregating task leaves its container and ends as canceled
--     at once.
-- A completed or archived task is over: nothing changes.
--
-- KEYS[1] -> asynq:{<qname>}:t:<task_id>
-- KEYS[2] -> asynq:{<qname>}:x:due (ZSET task id -> precise due time; the record is dropped)
-- ARGV[1] -> task id
-- ARGV[2] -> queue key prefix asynq:{<qname>}:
-- ARGV[3] -> group key prefix asynq:{<qname>}:g:
-- ARGV[4] -> task key prefix asynq:{<qname>}:t:
-- ARGV[5] -> "1" to keep asynq's behaviour (retried), "0" to cancel without retry
-- ARGV[6] -> cancel channel asynq:cancel
--
-- Returns 'missing' (no such task), 'signaled' (active: the publish went out; with retry off the
-- decision is recorded), 'canceled' (it was waiting and is now canceled), or the task's state when
-- nothing was done: 'completed' or 'archived' (finished), or a waiting state with retry on.

--!include lib/cancel.lua
local taskKey = KEYS[1]
local dueKey = KEYS[2]
local id = ARGV[1]
local queueKeyPrefix = ARGV[2]
local groupKeyPrefix = ARGV[3]
local taskKeyPrefix = ARGV[4]
local retry = ARGV[5]
local cancelChannel = ARGV[6]

local state = redis.call('HGET', taskKey, 'state')
if not state then
  return 'missing'
end
if state == 'active' then
  if retry == '0' then
    redis.call('HSET', taskKey, CANCEL_FIELD, '1')
  end
  redis.call('PUBLISH', cancelChannel, id)
  return 'signaled'
end
if retry == '1' or state == 'completed' or state == 'archived' then
  return state
end
leaveContainer(queueKeyPrefix, groupKeyPrefix, dueKey, taskKey, id, state)
endCanceled(taskKeyPrefix, dueKey, id)
return 'canceled'

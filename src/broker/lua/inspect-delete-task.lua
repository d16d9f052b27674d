-- Deletes one task that is not active. Mirrors asynq's deleteTask: the id leaves its container,
-- the unique lock is released when it still names this task, and the hash is deleted. taskmill
-- extension: the task ends through lib/task-ended.lua (outcome record 'deleted', progress
-- clean-up).
--
-- KEYS[1] -> asynq:{<qname>}:t:<task_id>
-- KEYS[2] -> asynq:{<qname>}:x:due (taskmill extension: precise due times; the record is dropped)
-- ARGV[1] -> task id
-- ARGV[2] -> queue key prefix asynq:{<qname>}:
-- ARGV[3] -> group key prefix asynq:{<qname>}:g:
-- ARGV[4] -> task key prefix asynq:{<qname>}:t:
--
-- Returns 1 when deleted, 0 when the task does not exist, 'active' when it is active.

--!include lib/task-removal.lua
--!include lib/dependents.lua
--!include lib/task-ended.lua
local taskKey = KEYS[1]
local dueKey = KEYS[2]
local id = ARGV[1]
local queueKeyPrefix = ARGV[2]
local groupKeyPrefix = ARGV[3]
local taskKeyPrefix = ARGV[4]

local state = redis.call('HGET', taskKey, 'state')
if not state then
  return 0
end
if state == 'active' then
  return state
end
leaveContainer(queueKeyPrefix, groupKeyPrefix, dueKey, taskKey, id, state)
-- A completed task's dependents heard of it when it completed (its children set is gone by now).
local hasChildren = endRemovedTask(taskKeyPrefix, id, state, 'deleted', state ~= 'completed')
deleteTaskHash(taskKeyPrefix, dueKey, id)
if hasChildren and state ~= 'completed' then
  dependentsOnEnd(queueOfTaskPrefix(taskKeyPrefix), id, 'deleted', depRedisNowMs())
end
return 1

-- Archives one task that is not active and not archived yet. Mirrors asynq's archiveTask: the
-- message is unchanged (no error recorded), the archived score is now, and the archive is trimmed
-- by age and size. Unlike asynq, the trimmed tasks' hashes (and unique locks) are deleted with
-- their ids, as asynq's own archive script does since v0.25. taskmill extension: the task ends
-- through lib/task-ended.lua (outcome record 'archived', progress clean-up).
--
-- KEYS[1] -> asynq:{<qname>}:t:<task_id>
-- KEYS[2] -> asynq:{<qname>}:archived
-- KEYS[3] -> asynq:{<qname>}:x:due (taskmill extension: precise due times; the record is dropped)
-- ARGV[1] -> task id
-- ARGV[2] -> now, unix seconds (the archived score)
-- ARGV[3] -> age cutoff, unix seconds: archived tasks scored at or before it are deleted
-- ARGV[4] -> size bound: the archive keeps at most ARGV[4] - 1 tasks (asynq passes 10000)
-- ARGV[5] -> queue key prefix asynq:{<qname>}:
-- ARGV[6] -> group key prefix asynq:{<qname>}:g:
-- ARGV[7] -> task key prefix asynq:{<qname>}:t:
--
-- Returns 1 when archived, 0 when the task does not exist, or its state ('archived', 'active')
-- when that state does not allow archiving.

--!include lib/task-removal.lua
--!include lib/dependents.lua
--!include lib/task-ended.lua
local taskKey = KEYS[1]
local archivedKey = KEYS[2]
local dueKey = KEYS[3]
local id = ARGV[1]
local now = ARGV[2]
local ageCutoff = ARGV[3]
local sizeBound = tonumber(ARGV[4])
local queueKeyPrefix = ARGV[5]
local groupKeyPrefix = ARGV[6]
local taskKeyPrefix = ARGV[7]

local state = redis.call('HGET', taskKey, 'state')
if not state then
  return 0
end
if state == 'archived' or state == 'active' then
  return state
end
leaveContainer(queueKeyPrefix, groupKeyPrefix, dueKey, taskKey, id, state)
local hasChildren = endRemovedTask(taskKeyPrefix, id, state, 'archived', true)
trimArchive(archivedKey, taskKeyPrefix, dueKey, ageCutoff, sizeBound, 1)
redis.call('ZADD', archivedKey, now, id)
redis.call('HSET', taskKey, 'state', 'archived')
if hasChildren then
  dependentsOnEnd(queueOfTaskPrefix(taskKeyPrefix), id, 'archived', now * 1000)
end
return 1

-- Deletes a batch of the tasks of one state: pending, scheduled, retry, archived, completed, or
-- one group's aggregating tasks; the caller repeats until the source is empty. Mirrors asynq's
-- deleteAll, deleteAllPending and deleteAllAggregating, in batches so that a large source never
-- blocks Redis in one call, and releases the unique locks of every one of them (asynq skips this
-- for pending and aggregating tasks, leaving locks that name deleted tasks). taskmill extension:
-- each live task ends through lib/task-ended.lua (outcome record 'deleted', progress clean-up).
--
-- KEYS[1] -> the source: asynq:{<qname>}:pending, :scheduled, :retry, :archived, :completed or
--            :g:<group>
-- KEYS[2] -> asynq:{<qname>}:groups
-- KEYS[3] -> asynq:{<qname>}:x:due (taskmill extension: precise due times; records are dropped)
-- KEYS[4] -> asynq:{<qname>}:x:prio (taskmill extension: pending tasks with a priority level, part
--            of the pending source after the list)
-- ARGV[1] -> 'pending' (the list and the priority ZSET), 'list' or 'zset': the source's type
-- ARGV[2] -> group name when KEYS[1] is a group, else ''
-- ARGV[3] -> task key prefix asynq:{<qname>}:t:
-- ARGV[4] -> batch size: at most this many ids are taken
--
-- Returns { ids taken, tasks deleted, ids left in the source }.

--!include lib/task-removal.lua
--!include lib/task-ended.lua
local sourceKey = KEYS[1]
local groupsKey = KEYS[2]
local dueKey = KEYS[3]
local prioKey = KEYS[4]
local kind = ARGV[1]
local group = ARGV[2]
local taskKeyPrefix = ARGV[3]
local batch = tonumber(ARGV[4])

local ids = takeSourceBatch(sourceKey, prioKey, kind, batch)
local deleted = 0
for _, id in ipairs(ids) do
  local state = redis.call('HGET', taskKeyPrefix .. id, 'state')
  if state then
    deleted = deleted + 1
    endRemovedTask(taskKeyPrefix, id, state, 'deleted')
  end
  deleteTaskHash(taskKeyPrefix, dueKey, id)
end
dropGroupIfEmpty(groupsKey, sourceKey, group)
return { #ids, deleted, sourceSize(sourceKey, prioKey, kind) }

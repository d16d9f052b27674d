-- Archives a batch of the tasks of one state: the pending list, the scheduled or retry set, or
-- one group's aggregating tasks; the caller repeats until the source is empty. Mirrors asynq's
-- archiveAll, archiveAllPending and archiveAllAggregating (score now, message unchanged, archive
-- trimmed by age and size), in batches so that a large source never blocks Redis in one call.
-- Unlike asynq, trimmed tasks lose their hashes and unique locks with their ids, and an id whose
-- hash is missing is dropped. taskmill extension: each task ends through lib/task-ended.lua
-- (outcome record 'archived', progress clean-up).
--
-- KEYS[1] -> the source: asynq:{<qname>}:pending, :scheduled, :retry or :g:<group>
-- KEYS[2] -> asynq:{<qname>}:archived
-- KEYS[3] -> asynq:{<qname>}:groups
-- KEYS[4] -> asynq:{<qname>}:x:due (taskmill extension: precise due times; records are dropped)
-- KEYS[5] -> asynq:{<qname>}:x:prio (taskmill extension: pending tasks with a priority level, part
--            of the pending source after the list)
-- ARGV[1] -> 'pending' (the list and the priority ZSET), 'list' or 'zset': the source's type
-- ARGV[2] -> group name when KEYS[1] is a group, else ''
-- ARGV[3] -> now, unix seconds (the archived score)
-- ARGV[4] -> age cutoff, unix seconds: archived tasks scored at or before it are deleted
-- ARGV[5] -> size bound: the archive keeps at most ARGV[5] - 1 tasks (asynq passes 10000)
-- ARGV[6] -> task key prefix asynq:{<qname>}:t:
-- ARGV[7] -> batch size: at most this many ids are taken
--
-- Returns { ids taken, tasks archived, ids left in the source }.

--!include lib/task-removal.lua
--!include lib/task-ended.lua
local sourceKey = KEYS[1]
local archivedKey = KEYS[2]
local groupsKey = KEYS[3]
local dueKey = KEYS[4]
local prioKey = KEYS[5]
local kind = ARGV[1]
local group = ARGV[2]
local now = ARGV[3]
local ageCutoff = ARGV[4]
local sizeBound = tonumber(ARGV[5])
local taskKeyPrefix = ARGV[6]
local batch = tonumber(ARGV[7])

local ids = takeSourceBatch(sourceKey, prioKey, kind, batch)
trimArchive(archivedKey, taskKeyPrefix, dueKey, ageCutoff, sizeBound, #ids)
local moved = 0
for _, id in ipairs(ids) do
  local taskKey = taskKeyPrefix .. id
  if redis.call('EXISTS', taskKey) == 1 then
    taskEnded(taskKeyPrefix, id, 'archived', nil, nil)
    redis.call('ZADD', archivedKey, now, id)
    redis.call('ZREM', dueKey, id)
    redis.call('HSET', taskKey, 'state', 'archived')
    moved = moved + 1
  end
end
dropGroupIfEmpty(groupsKey, sourceKey, group)
-- More tasks than the archive holds: drop the surplus as asynq's trim after the move does.
trimArchive(archivedKey, taskKeyPrefix, dueKey, ageCutoff, sizeBound, 0)
return { #ids, moved, sourceSize(sourceKey, prioKey, kind) }

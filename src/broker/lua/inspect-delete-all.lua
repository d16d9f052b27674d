-- Deletes every task of one state: pending, scheduled, retry, archived, completed, or one group's
-- aggregating tasks. Mirrors asynq's deleteAll, deleteAllPending and deleteAllAggregating, but
-- releases the unique locks of every one of them (asynq skips this for pending and aggregating
-- tasks, leaving locks that name deleted tasks).
--
-- KEYS[1] -> the source: asynq:{<qname>}:pending, :scheduled, :retry, :archived, :completed or
--            :g:<group>
-- KEYS[2] -> asynq:{<qname>}:groups
-- KEYS[3] -> asynq:{<qname>}:x:due (taskmill extension: precise due times; records are dropped)
-- ARGV[1] -> 'list' or 'zset': the source's type
-- ARGV[2] -> group name when KEYS[1] is a group, else ''
-- ARGV[3] -> task key prefix asynq:{<qname>}:t:
--
-- Returns the number of tasks deleted.

--!include lib/task-removal.lua
local sourceKey = KEYS[1]
local groupsKey = KEYS[2]
local dueKey = KEYS[3]
local kind = ARGV[1]
local group = ARGV[2]
local taskKeyPrefix = ARGV[3]

local ids
if kind == 'list' then
  ids = redis.call('LRANGE', sourceKey, 0, -1)
else
  ids = redis.call('ZRANGE', sourceKey, 0, -1)
end
local deleted = 0
for _, id in ipairs(ids) do
  deleted = deleted + redis.call('EXISTS', taskKeyPrefix .. id)
  deleteTaskHash(taskKeyPrefix, dueKey, id)
end
redis.call('DEL', sourceKey)
if group ~= '' then
  redis.call('SREM', groupsKey, group)
end
return deleted

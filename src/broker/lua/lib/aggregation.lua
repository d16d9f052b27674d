-- Library: groups and aggregation sets (asynq's layout, protocol §6.3 of docs/protocol.md).

-- Adds a new task to its group as asynq's addToGroup does: hash with state 'aggregating' and the
-- group name, group ZSET scored with the time it was added (unix seconds), group name registered
-- in the queue's groups set so that aggregators visit it. (asynq writes no unique_key field here
-- even for a unique task; neither does this, so Go's Inspector sees the same hash.)
local function addToGroup(taskKey, msg, groupKey, groupsKey, group, id, nowSec)
  redis.call('HSET', taskKey, 'msg', msg, 'state', 'aggregating', 'group', group)
  redis.call('ZADD', groupKey, nowSec, id)
  redis.call('SADD', groupsKey, group)
end

-- Deletes an aggregation set as asynq's deleteAggregationSet does: the hashes of its tasks, the
-- set, and its registration in aggregation_sets.
local function deleteAggregationSet(setKey, aggregationSetsKey, taskKeyPrefix)
  for _, id in ipairs(redis.call('ZRANGE', setKey, 0, -1)) do
    redis.call('DEL', taskKeyPrefix .. id)
  end
  redis.call('DEL', setKey)
  redis.call('ZREM', aggregationSetsKey, setKey)
end

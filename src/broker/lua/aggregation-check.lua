-- Checks one group and, when it is due for aggregation, moves its oldest tasks into a new
-- aggregation set and returns them. Mirrors asynq's aggregationCheck (its rules, the set key, the
-- set's registration and deadline, when the group name leaves the groups set) and, in the same
-- call, its readAggregationSet, so an aggregation costs one round trip less.
--
-- The group is due, checked in this order (asynq's):
-- 1. size: max size > 0 and the group holds at least that many tasks: the max size oldest go;
-- 2. max delay: max delay > 0 and the oldest task was added at or before now - max delay;
-- 3. grace period: the newest task was added at or before now - grace period.
-- Under rules 2 and 3 every task goes (fewer than max size are left when rule 1 did not apply).
-- The group name leaves the groups set when the group is left empty.
--
-- Deliberate fix: a registered group that is empty (its ZSET gone) is unregistered here; asynq
-- leaves the name behind for every aggregator to visit forever. Go peers see only a cleaner set.
--
-- KEYS[1] -> asynq:{<qname>}:g:<group>
-- KEYS[2] -> asynq:{<qname>}:g:<group>:<set id>, the new aggregation set (set id: a UUID v4)
-- KEYS[3] -> asynq:{<qname>}:aggregation_sets
-- KEYS[4] -> asynq:{<qname>}:groups
-- ARGV[1] -> max size (0 = no limit)
-- ARGV[2] -> max delay, whole seconds (0 = none)
-- ARGV[3] -> grace period, whole seconds
-- ARGV[4] -> the set's deadline, unix seconds (asynq: now + 2 min); a recoverer puts the set's
--            tasks back into the group once it has passed
-- ARGV[5] -> the time of the check, unix seconds
-- ARGV[6] -> group name
-- ARGV[7] -> task key prefix asynq:{<qname>}:t:
--
-- Returns {} when the group is not due, otherwise the set's tasks oldest first as id, msg pairs
-- (the order asynq's aggregator hands them over in: by score, then by id). An id whose task hash
-- is gone is left out of the reply (the set's deletion removes it); a set of such ids only is
-- deleted at once and {} returned.

local groupKey = KEYS[1]
local setKey = KEYS[2]
local aggregationSetsKey = KEYS[3]
local groupsKey = KEYS[4]
local maxSize = tonumber(ARGV[1])
local maxDelay = tonumber(ARGV[2])
local gracePeriod = tonumber(ARGV[3])
local deadline = ARGV[4]
local now = tonumber(ARGV[5])
local groupName = ARGV[6]
local taskKeyPrefix = ARGV[7]

local size = redis.call('ZCARD', groupKey)
if size == 0 then
  redis.call('SREM', groupsKey, groupName)
  return {}
end

local count = size
local due = false
if maxSize > 0 and size >= maxSize then
  count = maxSize
  due = true
elseif maxDelay > 0 and tonumber(redis.call('ZRANGE', groupKey, 0, 0, 'WITHSCORES')[2]) <= now - maxDelay then
  due = true
elseif tonumber(redis.call('ZRANGE', groupKey, -1, -1, 'WITHSCORES')[2]) <= now - gracePeriod then
  due = true
end
if not due then
  return {}
end

-- The oldest count tasks keep their scores in the set (a reclaim puts them back as they were).
redis.call('ZRANGESTORE', setKey, groupKey, 0, count - 1)
redis.call('ZREMRANGEBYRANK', groupKey, 0, count - 1)
redis.call('ZADD', aggregationSetsKey, deadline, setKey)
if count == size then
  redis.call('SREM', groupsKey, groupName)
end

local reply = {}
for _, id in ipairs(redis.call('ZRANGE', setKey, 0, -1)) do
  local msg = redis.call('HGET', taskKeyPrefix .. id, 'msg')
  if msg then
    reply[#reply + 1] = id
    reply[#reply + 1] = msg
  end
end
if #reply == 0 then
  -- Only ids without a task hash: nothing to aggregate, and no set is left behind for them.
  redis.call('DEL', setKey)
  redis.call('ZREM', aggregationSetsKey, setKey)
end
return reply

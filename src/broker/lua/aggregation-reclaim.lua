-- Puts the tasks of stale aggregation sets (their deadline has passed: the aggregator that made
-- them died or hung before it enqueued the aggregate) back into their groups, with the scores
-- they had there, and deletes the sets. Mirrors asynq's reclaimStaleAggregationSets: the group
-- key is the set key up to its last ':' (set ids are UUIDs, group names may hold ':').
--
-- Deliberate fixes, visible to Go peers only as a state they can work with:
-- - the group name is registered in the groups set again: asynq leaves it out (the check that
--   made the set usually removed it), and an aggregator visits only registered groups, so the
--   reclaimed tasks would wait until another task joined the group;
-- - an id whose task hash is gone is dropped rather than put back (no dangling ids).
--
-- KEYS[1] -> asynq:{<qname>}:aggregation_sets
-- KEYS[2] -> asynq:{<qname>}:groups
-- ARGV[1] -> now, unix seconds: sets whose deadline is at or before it are reclaimed
-- ARGV[2] -> group key prefix asynq:{<qname>}:g:
-- ARGV[3] -> task key prefix asynq:{<qname>}:t:
--
-- Returns the number of tasks put back.

local aggregationSetsKey = KEYS[1]
local groupsKey = KEYS[2]
local now = ARGV[1]
local groupKeyPrefix = ARGV[2]
local taskKeyPrefix = ARGV[3]

local reclaimed = 0
for _, setKey in ipairs(redis.call('ZRANGE', aggregationSetsKey, '-inf', now, 'BYSCORE')) do
  local groupKey = string.match(setKey, '^(.*):[^:]*$')
  local members = redis.call('ZRANGE', setKey, 0, -1, 'WITHSCORES')
  local back = 0
  for i = 1, #members, 2 do
    local id = members[i]
    if redis.call('EXISTS', taskKeyPrefix .. id) == 1 then
      redis.call('ZADD', groupKey, members[i + 1], id)
      back = back + 1
    end
  end
  redis.call('DEL', setKey)
  local prefixLength = #groupKeyPrefix
  if back > 0 and string.sub(groupKey, 1, prefixLength) == groupKeyPrefix then
    redis.call('SADD', groupsKey, string.sub(groupKey, prefixLength + 1))
  end
  reclaimed = reclaimed + back
end
redis.call('ZREMRANGEBYSCORE', aggregationSetsKey, '-inf', now)
return reclaimed

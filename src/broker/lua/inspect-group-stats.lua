-- Lists a queue's groups with the number of aggregating tasks in each. Mirrors asynq's
-- groupStats.
--
-- KEYS[1] -> asynq:{<qname>}:groups
-- ARGV[1] -> group key prefix asynq:{<qname>}:g:
--
-- Returns a flat array of group name, size.

local groupsKey = KEYS[1]
local groupKeyPrefix = ARGV[1]

local out = {}
for _, group in ipairs(redis.call('SMEMBERS', groupsKey)) do
  out[#out + 1] = group
  out[#out + 1] = redis.call('ZCARD', groupKeyPrefix .. group)
end
return out

-- Deletes completed tasks whose retention has run out. Mirrors asynq's
-- deleteExpiredCompletedTasks script.
--
-- KEYS[1] -> asynq:{<qname>}:completed
-- ARGV[1] -> now, unix seconds
-- ARGV[2] -> task key prefix asynq:{<qname>}:t:
-- ARGV[3] -> batch size
--
-- Returns the number of tasks deleted; the caller repeats until it returns 0.
local ids = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do
  redis.call('DEL', ARGV[2] .. id)
  redis.call('ZREM', KEYS[1], id)
end
return #ids

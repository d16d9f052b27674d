-- Moves an active task to the archive (dead-letter ZSET) and trims the archive by age and size,
-- deleting the hashes of trimmed tasks. Mirrors asynq's (v0.25+) archive script.
--
-- KEYS[1] -> asynq:{<qname>}:t:<task_id>
-- KEYS[2] -> asynq:{<qname>}:active
-- KEYS[3] -> asynq:{<qname>}:lease
-- KEYS[4] -> asynq:{<qname>}:archived
-- KEYS[5] -> asynq:{<qname>}:processed:<yyyy-mm-dd>
-- KEYS[6] -> asynq:{<qname>}:failed:<yyyy-mm-dd>
-- KEYS[7] -> asynq:{<qname>}:processed
-- KEYS[8] -> asynq:{<qname>}:failed
-- ARGV[1] -> task id
-- ARGV[2] -> updated TaskMessage (error_msg and last_failed_at set; retried unchanged)
-- ARGV[3] -> now, unix seconds (the archive score)
-- ARGV[4] -> age cutoff, unix seconds: archived tasks scored at or before it are deleted
-- ARGV[5] -> size bound: afterwards the archive holds at most ARGV[5] - 1 tasks, this one included
--            (asynq passes 10000, keeping 9,999)
-- ARGV[6] -> daily stats key expiry, unix seconds
-- ARGV[7] -> int64 max, where the totals wrap to 1
-- ARGV[8] -> task key prefix asynq:{<qname>}:t:
--
-- Returns 1 on success, 0 when the task is not active in this queue.
if redis.call('LREM', KEYS[2], 0, ARGV[1]) == 0 then
  return 0
end
redis.call('ZREM', KEYS[3], ARGV[1])
-- Trim before adding this task, unlike asynq, which adds first. Trimming afterwards can select this
-- very task (a cutoff in the current second, or equal scores, which ZSETs order by member), delete
-- its hash and leave the HSET below writing a hash that no container lists. Trimming the old tasks
-- to the newest (bound - 2) and then adding this one gives asynq's sizes without that hazard.
local old = redis.call('ZRANGE', KEYS[4], '-inf', ARGV[4], 'BYSCORE')
for _, id in ipairs(old) do
  redis.call('DEL', ARGV[8] .. id)
  redis.call('ZREM', KEYS[4], id)
end
local excess = redis.call('ZRANGE', KEYS[4], 0, -(tonumber(ARGV[5]) - 1))
for _, id in ipairs(excess) do
  redis.call('DEL', ARGV[8] .. id)
  redis.call('ZREM', KEYS[4], id)
end
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[1], 'msg', ARGV[2], 'state', 'archived')
if redis.call('INCR', KEYS[5]) == 1 then
  redis.call('EXPIREAT', KEYS[5], ARGV[6])
end
if redis.call('INCR', KEYS[6]) == 1 then
  redis.call('EXPIREAT', KEYS[6], ARGV[6])
end
if redis.call('GET', KEYS[7]) == ARGV[7] then
  redis.call('SET', KEYS[7], 1)
  redis.call('SET', KEYS[8], 1)
else
  redis.call('INCR', KEYS[7])
  redis.call('INCR', KEYS[8])
end
return 1

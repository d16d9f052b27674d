-- Moves an active task to the retry ZSET after a failed attempt. Mirrors asynq's retry script.
--
-- KEYS[1] -> asynq:{<qname>}:t:<task_id>
-- KEYS[2] -> asynq:{<qname>}:active
-- KEYS[3] -> asynq:{<qname>}:lease
-- KEYS[4] -> asynq:{<qname>}:retry
-- KEYS[5] -> asynq:{<qname>}:processed:<yyyy-mm-dd>
-- KEYS[6] -> asynq:{<qname>}:failed:<yyyy-mm-dd>
-- KEYS[7] -> asynq:{<qname>}:processed
-- KEYS[8] -> asynq:{<qname>}:failed
-- ARGV[1] -> task id
-- ARGV[2] -> updated TaskMessage (error_msg, last_failed_at, retried + 1 when it counts as a failure)
-- ARGV[3] -> retry-at, unix seconds
-- ARGV[4] -> daily stats key expiry, unix seconds
-- ARGV[5] -> "1" when the error counts as a failure (stats are counted), "0" otherwise
-- ARGV[6] -> int64 max, where the totals wrap to 1
--
-- Returns 1 on success, 0 when the task is not active in this queue.
if redis.call('LREM', KEYS[2], 0, ARGV[1]) == 0 then
  return 0
end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[1], 'msg', ARGV[2], 'state', 'retry')
if ARGV[5] == '1' then
  if redis.call('INCR', KEYS[5]) == 1 then
    redis.call('EXPIREAT', KEYS[5], ARGV[4])
  end
  if redis.call('INCR', KEYS[6]) == 1 then
    redis.call('EXPIREAT', KEYS[6], ARGV[4])
  end
  if redis.call('GET', KEYS[7]) == ARGV[6] then
    redis.call('SET', KEYS[7], 1)
    redis.call('SET', KEYS[8], 1)
  else
    redis.call('INCR', KEYS[7])
    redis.call('INCR', KEYS[8])
  end
end
return 1

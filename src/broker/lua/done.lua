-- Finishes one or more successfully handled (or revoked) active tasks of one queue. Per task it has
-- the effects of asynq's done/doneUnique (retention 0: the task is deleted) or
-- markAsComplete/markAsCompleteUnique (retention > 0: the task moves to the completed ZSET with a
-- rewritten message carrying completed_at). Batching acknowledgements keeps Lua overhead per task low.
--
-- KEYS[1] -> asynq:{<qname>}:active
-- KEYS[2] -> asynq:{<qname>}:lease
-- KEYS[3] -> asynq:{<qname>}:completed
-- KEYS[4] -> asynq:{<qname>}:processed:<yyyy-mm-dd>
-- KEYS[5] -> asynq:{<qname>}:processed
-- ARGV[1] -> daily stats key expiry, unix seconds (now + 90 days)
-- ARGV[2] -> int64 max, where the total counter wraps to 1
-- ARGV[3] -> task key prefix asynq:{<qname>}:t:
-- ARGV[4..] -> four values per task: task id, completed-set score (expiry unix seconds; "0" = delete
--              the task), re-encoded message for the completed state ("" when deleting), unique key
--              ("" = none; released only while it still holds this task id)
--
-- Returns one integer per task: 1 done, 0 not active in this queue (e.g. already recovered elsewhere).
local results = {}
local n = 0
local finished = 0
for i = 4, #ARGV, 4 do
  local id = ARGV[i]
  local score = ARGV[i + 1]
  local taskKey = ARGV[3] .. id
  local result = 0
  if redis.call('LREM', KEYS[1], 0, id) > 0 then
    redis.call('ZREM', KEYS[2], id)
    if score == '0' then
      redis.call('DEL', taskKey)
    else
      redis.call('ZADD', KEYS[3], score, id)
      redis.call('HSET', taskKey, 'msg', ARGV[i + 2], 'state', 'completed')
    end
    local uniqueKey = ARGV[i + 3]
    if uniqueKey ~= '' and redis.call('GET', uniqueKey) == id then
      redis.call('DEL', uniqueKey)
    end
    result = 1
    finished = finished + 1
  end
  n = n + 1
  results[n] = result
end
if finished > 0 then
  if redis.call('INCRBY', KEYS[4], finished) == finished then
    redis.call('EXPIREAT', KEYS[4], ARGV[1])
  end
  if redis.call('GET', KEYS[5]) == ARGV[2] then
    redis.call('SET', KEYS[5], finished)
  else
    redis.call('INCRBY', KEYS[5], finished)
  end
end
return results

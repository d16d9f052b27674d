-- Leases up to ARGV[3] pending tasks of one queue to the calling worker. Per task the effects are
-- asynq's dequeue script: RPOPLPUSH pending -> active, state=active, pending_since removed, and a
-- lease entry. Taking several tasks per call keeps the per-call Lua overhead off each task.
--
-- Deliberate fix of an asynq quirk: an id whose task hash is missing is dropped from the active
-- list instead of being leased as a hashless entry (which breaks asynqmon's memory-usage script).
--
-- KEYS[1] -> asynq:{<qname>}:pending
-- KEYS[2] -> asynq:{<qname>}:paused
-- KEYS[3] -> asynq:{<qname>}:active
-- KEYS[4] -> asynq:{<qname>}:lease
-- ARGV[1] -> lease expiry in unix seconds
-- ARGV[2] -> task key prefix asynq:{<qname>}:t:
-- ARGV[3] -> maximum number of tasks to take
--
-- Returns a flat array id1, msg1, id2, msg2, ... (empty when the queue is paused or empty).
if redis.call('EXISTS', KEYS[2]) == 1 then
  return {}
end
local out = {}
local n = 0
local max = tonumber(ARGV[3])
local taken = 0
while taken < max do
  local id = redis.call('RPOPLPUSH', KEYS[1], KEYS[3])
  if not id then
    break
  end
  taken = taken + 1
  local taskKey = ARGV[2] .. id
  local msg = redis.call('HGET', taskKey, 'msg')
  if msg then
    redis.call('HSET', taskKey, 'state', 'active')
    redis.call('HDEL', taskKey, 'pending_since')
    redis.call('ZADD', KEYS[4], ARGV[1], id)
    out[n + 1] = id
    out[n + 2] = msg
    n = n + 2
  else
    redis.call('LREM', KEYS[3], 1, id)
  end
end
return out

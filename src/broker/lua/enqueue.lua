-- Creates one or more tasks in one queue: each goes to the pending list, or to the scheduled ZSET
-- when it has a future process-at time, optionally guarded by a uniqueness lock. Covers asynq's
-- enqueue, enqueueUnique, schedule and scheduleUnique scripts with identical per-task effects, so a
-- bulk enqueue of many tasks costs one round trip per queue.
--
-- Deliberate fix of an asynq quirk: the task-id conflict is checked before the uniqueness lock is
-- taken, so a conflicting task never leaves a stray lock behind (Go peers cannot tell the difference
-- except that no orphan lock exists).
--
-- KEYS[1] -> asynq:{<qname>}:pending
-- KEYS[2] -> asynq:{<qname>}:scheduled
-- ARGV[1] -> task key prefix asynq:{<qname>}:t:
-- ARGV[2] -> current unix time in nanoseconds (pending_since)
-- ARGV[3] -> wake-up channel asynq:{<qname>}:x:wake (taskmill extension)
-- ARGV[4..] -> five values per task: task id, encoded TaskMessage, process-at unix seconds
--              ("0" = pending now), unique key ("" = not unique), unique lock TTL in whole seconds
--
-- When this call made an empty pending list non-empty it publishes on the wake-up channel, so idle
-- taskmill servers fetch at once instead of waiting for their next poll. Servers that are busy keep
-- fetching while the list is non-empty, so one message per empty-to-non-empty change is enough, and
-- a steady stream costs no extra command. PUBLISH creates no key: Go peers see nothing of it.
--
-- Returns one integer per task, in order: 1 created, 0 task id conflict, -1 unique lock held.
local results = {}
local n = 0
local pushed = 0
for i = 4, #ARGV, 5 do
  local id = ARGV[i]
  local msg = ARGV[i + 1]
  local processAt = ARGV[i + 2]
  local uniqueKey = ARGV[i + 3]
  local taskKey = ARGV[1] .. id
  local result = 1
  if redis.call('EXISTS', taskKey) == 1 then
    result = 0
  elseif uniqueKey ~= '' and not redis.call('SET', uniqueKey, id, 'NX', 'EX', ARGV[i + 4]) then
    result = -1
  else
    if processAt == '0' then
      if uniqueKey ~= '' then
        redis.call('HSET', taskKey, 'msg', msg, 'state', 'pending', 'pending_since', ARGV[2], 'unique_key', uniqueKey)
      else
        redis.call('HSET', taskKey, 'msg', msg, 'state', 'pending', 'pending_since', ARGV[2])
      end
      redis.call('LPUSH', KEYS[1], id)
      pushed = pushed + 1
    else
      if uniqueKey ~= '' then
        redis.call('HSET', taskKey, 'msg', msg, 'state', 'scheduled', 'unique_key', uniqueKey)
      else
        redis.call('HSET', taskKey, 'msg', msg, 'state', 'scheduled')
      end
      redis.call('ZADD', KEYS[2], processAt, id)
    end
  end
  n = n + 1
  results[n] = result
end
if pushed > 0 and redis.call('LLEN', KEYS[1]) == pushed then
  redis.call('PUBLISH', ARGV[3], '1')
end
return results

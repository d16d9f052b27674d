-- The worker's hot path in one call: first acknowledges finished tasks, then leases pending ones.
-- A worker at low concurrency would otherwise pay two round trips and two script invocations per
-- task (ack, then fetch the next); either half may be empty (ARGV[3] = 0, or no ack items).
--
-- Acknowledging, per task: the effects of asynq's done/doneUnique (score "0": the task is deleted)
-- or markAsComplete/markAsCompleteUnique (score > 0: it moves to the completed ZSET with a
-- rewritten message carrying completed_at). Counters are bumped once per call, by the number done.
--
-- Leasing, per task: the effects of asynq's dequeue: RPOPLPUSH pending -> active, state=active,
-- pending_since removed, a lease entry. Nothing is leased while the queue is paused. Deliberate fix
-- of an asynq quirk: an id whose task hash is missing is dropped from the active list instead of
-- being leased as a hashless entry (which breaks asynqmon's memory-usage script).
--
-- KEYS[1] -> asynq:{<qname>}:pending
-- KEYS[2] -> asynq:{<qname>}:paused
-- KEYS[3] -> asynq:{<qname>}:active
-- KEYS[4] -> asynq:{<qname>}:lease
-- KEYS[5] -> asynq:{<qname>}:completed
-- KEYS[6] -> asynq:{<qname>}:processed:<yyyy-mm-dd>
-- KEYS[7] -> asynq:{<qname>}:processed
-- ARGV[1] -> task key prefix asynq:{<qname>}:t:
-- ARGV[2] -> lease expiry of newly leased tasks, unix seconds
-- ARGV[3] -> maximum number of tasks to lease (0: acknowledge only)
-- ARGV[4] -> daily stats key expiry, unix seconds (now + 90 days)
-- ARGV[5] -> int64 max, where the total counter wraps to 1
-- ARGV[6..] -> four values per finished task: task id, completed-set score (expiry unix seconds;
--              "0" = delete the task), re-encoded message for the completed state ("" when
--              deleting), unique key ("" = none; released only while it still holds this task id)
--
-- Returns { codes, leased }: codes has one integer per finished task (1 done, 0 not active in this
-- queue, e.g. already recovered elsewhere); leased is a flat array id1, msg1, id2, msg2, ...
local prefix = ARGV[1]

local codes = {}
local finished = 0
for i = 6, #ARGV, 4 do
  local id = ARGV[i]
  local score = ARGV[i + 1]
  local taskKey = prefix .. id
  local code = 0
  if redis.call('LREM', KEYS[3], 0, id) > 0 then
    redis.call('ZREM', KEYS[4], id)
    if score == '0' then
      redis.call('DEL', taskKey)
    else
      redis.call('ZADD', KEYS[5], score, id)
      redis.call('HSET', taskKey, 'msg', ARGV[i + 2], 'state', 'completed')
    end
    local uniqueKey = ARGV[i + 3]
    if uniqueKey ~= '' and redis.call('GET', uniqueKey) == id then
      redis.call('DEL', uniqueKey)
    end
    code = 1
    finished = finished + 1
  end
  codes[#codes + 1] = code
end
if finished > 0 then
  if redis.call('INCRBY', KEYS[6], finished) == finished then
    redis.call('EXPIREAT', KEYS[6], ARGV[4])
  end
  if redis.call('GET', KEYS[7]) == ARGV[5] then
    redis.call('SET', KEYS[7], finished)
  else
    redis.call('INCRBY', KEYS[7], finished)
  end
end

local leased = {}
local max = tonumber(ARGV[3])
if max > 0 and redis.call('EXISTS', KEYS[2]) == 0 then
  local taken = 0
  while taken < max do
    local id = redis.call('RPOPLPUSH', KEYS[1], KEYS[3])
    if not id then
      break
    end
    taken = taken + 1
    local taskKey = prefix .. id
    local msg = redis.call('HGET', taskKey, 'msg')
    if msg then
      redis.call('HSET', taskKey, 'state', 'active')
      redis.call('HDEL', taskKey, 'pending_since')
      redis.call('ZADD', KEYS[4], ARGV[2], id)
      leased[#leased + 1] = id
      leased[#leased + 1] = msg
    else
      redis.call('LREM', KEYS[3], 1, id)
    end
  end
end
return { codes, leased }

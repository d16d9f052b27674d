-- Reads, in one atomic call on the queue's slot, every fact the Inspector's explain needs about one
-- task and its queue (taskmill extension, docs/inspector.md "Why isn't my task running?"). Read
-- only. It works on tasks Go asynq wrote (the same hash fields and containers); the extension keys
-- it reads (x:prio, x:limits, x:rate, x:due, x:dep:<id>, x:result:<id>) are simply absent there.
--
-- KEYS[1] -> asynq:{<qname>}:t:<task_id>
-- KEYS[2] -> asynq:{<qname>}:pending
-- KEYS[3] -> asynq:{<qname>}:x:prio
-- KEYS[4] -> asynq:{<qname>}:active
-- KEYS[5] -> asynq:{<qname>}:lease
-- KEYS[6] -> asynq:{<qname>}:paused
-- KEYS[7] -> asynq:{<qname>}:x:limits
-- KEYS[8] -> asynq:{<qname>}:x:rate
-- KEYS[9] -> asynq:{<qname>}:x:due
-- KEYS[10] -> asynq:{<qname>}:x:dep:<task_id>
-- KEYS[11] -> asynq:{<qname>}:x:result:<task_id>
-- KEYS[12] -> asynq:{<qname>}:processed
-- ARGV[1] -> task id
-- ARGV[2] -> queue key prefix asynq:{<qname>}:
-- ARGV[3] -> group key prefix asynq:{<qname>}:g:
--
-- Returns a flat array of name, value pairs (a name is absent when it does not apply):
--   now_ms           the Redis server's clock (rate-log times are on it)
--   state, msg, prio, group, pending_since   the task hash's fields ('' when missing)
--   score            the task's score in its state's sorted set (scheduled, retry, archived,
--                    completed), unix seconds
--   due_ms           its precise due time in x:due (scheduled, retry; taskmill's own tasks)
--   lease            an active task's lease expiry, unix seconds
--   ahead, above, listed  a pending task: tasks that run before it (absent when it lies deeper
--                    than 50,000 entries from both ends of the list); prioritized tasks above
--                    normal; the pending list's length
--   prio_total       the priority ZSET's size (every pending task not in the list)
--   group_size, group_oldest, group_newest  an aggregating task's group (unix seconds)
--   paused           the paused key's value (unix seconds of the pause), when paused
--   rate_limit, rate_period_ms, rate_used, rate_frees_ms, concurrency, active   the queue's limits
--   dependent        1 when the id is a waiting dependent
--   outcome_state, outcome_at, outcome_error   the outcome record, when one exists
--   processed_total  the queue's processed counter

--!include lib/priority.lua
--!include lib/redis-time.lua
--!include lib/due-record.lua
local taskKey = KEYS[1]
local pendingKey = KEYS[2]
local prioKey = KEYS[3]
local activeKey = KEYS[4]
local leaseKey = KEYS[5]
local pausedKey = KEYS[6]
local limitsKey = KEYS[7]
local rateKey = KEYS[8]
local dueKey = KEYS[9]
local dependentKey = KEYS[10]
local outcomeKey = KEYS[11]
local processedTotalKey = KEYS[12]
local id = ARGV[1]
local queueKeyPrefix = ARGV[2]
local groupKeyPrefix = ARGV[3]

-- How deep into the pending list, from each end, the task is looked for.
local SEARCH_SPAN = 50000

local out = {}
local function put(name, value)
  if value then
    out[#out + 1] = name
    out[#out + 1] = value
  end
end

local nowMs = redisTimeMs()
put('now_ms', string.format('%d', nowMs))

local fields = redis.call('HMGET', taskKey, 'msg', 'state', 'x_prio', 'group', 'pending_since')
local state = fields[2]
if fields[1] then
  put('msg', fields[1])
  put('state', state)
  put('prio', fields[3])
  put('group', fields[4])
  put('pending_since', fields[5])
end

if state == 'scheduled' or state == 'retry' or state == 'archived' or state == 'completed' then
  put('score', redis.call('ZSCORE', queueKeyPrefix .. state, id))
end
if state == 'scheduled' or state == 'retry' then
  local dueMs = dueRecordMs(redis.call('ZSCORE', dueKey, id))
  put('due_ms', dueMs and string.format('%d', dueMs))
end
if state == 'active' then
  put('lease', redis.call('ZSCORE', leaseKey, id))
end

-- Run order (as inspect-list-tasks.lua lists it): prioritized levels above normal, the pending
-- list from its right end, then the levels below normal.
local above = redis.call('ZCOUNT', prioKey, '-inf', PRIO_ABOVE_NORMAL_END)
local listed = redis.call('LLEN', pendingKey)
put('above', above)
put('listed', listed)
put('prio_total', redis.call('ZCARD', prioKey))
if state == 'pending' then
  local rank = redis.call('ZRANK', prioKey, id)
  if rank then
    if rank < above then
      put('ahead', rank)
    else
      put('ahead', listed + rank)
    end
  else
    -- Searched from the head of the line (the right end), then from the tail, each at most
    -- SEARCH_SPAN entries deep: the read stays short on a list of millions (a task deeper than
    -- that from both ends gets no place).
    local index = redis.call('LPOS', pendingKey, id, 'RANK', -1, 'MAXLEN', SEARCH_SPAN)
      or redis.call('LPOS', pendingKey, id, 'RANK', 1, 'MAXLEN', SEARCH_SPAN)
    if index then
      put('ahead', above + listed - 1 - index)
    end
  end
end

if state == 'aggregating' and fields[4] then
  local groupKey = groupKeyPrefix .. fields[4]
  put('group_size', redis.call('ZCARD', groupKey))
  put('group_oldest', redis.call('ZRANGE', groupKey, 0, 0, 'WITHSCORES')[2])
  put('group_newest', redis.call('ZRANGE', groupKey, -1, -1, 'WITHSCORES')[2])
end

put('paused', redis.call('GET', pausedKey))

-- The limits as lib/limits.lua applies them: entries of the rate log younger than the period count;
-- the next lease is allowed when all but rate_limit - 1 of them have aged out of it.
local limits = redis.call('HMGET', limitsKey, 'rate_limit', 'rate_period_ms', 'concurrency')
local rateLimit = tonumber(limits[1])
local periodMs = tonumber(limits[2])
if rateLimit and periodMs then
  local younger = string.format('(%d', nowMs - periodMs)
  local used = redis.call('ZCOUNT', rateKey, younger, '+inf')
  put('rate_limit', limits[1])
  put('rate_period_ms', limits[2])
  put('rate_used', used)
  if used >= rateLimit then
    local entry = redis.call('ZRANGEBYSCORE', rateKey, younger, '+inf', 'WITHSCORES', 'LIMIT', used - rateLimit, 1)
    put('rate_frees_ms', string.format('%d', tonumber(entry[2]) + periodMs))
  end
end
put('concurrency', limits[3])
put('active', redis.call('LLEN', activeKey))

if not fields[1] then
  put('dependent', redis.call('EXISTS', dependentKey))
  local outcome = redis.call('HMGET', outcomeKey, 'state', 'at', 'error')
  put('outcome_state', outcome[1])
  put('outcome_at', outcome[2])
  put('outcome_error', outcome[3])
end
put('processed_total', redis.call('GET', processedTotalKey))
return out

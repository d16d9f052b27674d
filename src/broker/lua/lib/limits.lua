-- Library: a queue's limits across every worker (taskmill extension; docs/workflows.md "Rate limits
-- and concurrency caps"). The configuration is the HASH asynq:{<qname>}:x:limits, written by the
-- Inspector (set-queue-limits.lua), with the fields
--   rate_limit, rate_period_ms  at most rate_limit tasks leased in any rate_period_ms (both or none)
--   concurrency                 at most this many tasks in the queue's active list
-- A queue without the HASH has no limits, and its dequeue pays one HMGET for the check.
--
-- The rate is a sliding log, asynq:{<qname>}:x:rate: a ZSET of the task ids leased (member) at
-- the Redis server's time in ms (score), so workers' clocks take no part. A lease is allowed while
-- fewer than rate_limit entries are younger than rate_period_ms, so a span of rate_period_ms holds
-- at most rate_limit leases made on time (a fixed window lets twice the limit through across a
-- window boundary). An id leased again within the period (a prefetched task given back and taken
-- again) counts once. The log expires one period (plus the catch-up time) after its last lease.
--
-- Catching up: an entry leaves the log when its period is over, and the slot it frees is taken by
-- the next lease, whenever a worker comes back for it. A worker that comes back late (its timer
-- fired late, its process was not scheduled, its slots were busy) would push that slot's schedule
-- back for good, and a queue with a backlog would lose rate period after period. So a lease made at
-- most the catch-up time (catchUpMs) after the slot it takes freed is logged at the time the slot
-- freed (the old entry + the period), not at its own: the schedule keeps its place. Expired entries
-- stay in the log (not counted) for that long, so a slot freed while no worker could take it is
-- still caught up. A slot free for longer (the queue had no work) is logged at the lease's time.
-- The price: a span of one period can hold, beyond the limit, the leases that came late.
--
-- The concurrency cap counts the active list: Go workers' tasks and prefetched tasks included.
-- Go workers read none of this: they lease without checking, and their leases are not logged.

-- How late a lease may come and still keep its slot's place: a quarter period, at most 250 ms.
local function catchUpMs(periodMs)
  return math.min(math.floor(periodMs / 4), 250)
end

-- Reads the queue's limits and how many tasks they allow to lease now (at most maxLeased are
-- asked for). Returns nil when the queue has no limits; otherwise a table { budget, rateBudget,
-- capBudget, nowMs, periodMs, rateLimit, freed } where each budget is math.huge when that limit is
-- not set, and freed lists (oldest first) the times of the slots that freed within the catch-up
-- time (nowMs and the rest only with a rate).
local function leaseBudget(limitsKey, rateKey, activeKey, maxLeased)
  local config = redis.call('HMGET', limitsKey, 'rate_limit', 'rate_period_ms', 'concurrency')
  local rateLimit = tonumber(config[1])
  local periodMs = tonumber(config[2])
  local cap = tonumber(config[3])
  if not (rateLimit and periodMs) and not cap then
    return nil
  end
  local limits = { rateBudget = math.huge, capBudget = math.huge }
  if cap then
    limits.capBudget = cap - redis.call('LLEN', activeKey)
  end
  -- At the cap the log needs no trimming: nothing is leased.
  if rateLimit and periodMs and limits.capBudget > 0 then
    local time = redis.call('TIME')
    local nowMs = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
    -- Entries whose slot freed longer ago than the catch-up time go; those that freed more
    -- recently stay, out of the count, until a lease takes their slot (or they age out).
    redis.call('ZREMRANGEBYSCORE', rateKey, '-inf', string.format('%d', nowMs - periodMs - catchUpMs(periodMs)))
    local expiredUpTo = string.format('%d', nowMs - periodMs)
    local freedCount = redis.call('ZCOUNT', rateKey, '-inf', expiredUpTo)
    limits.freed = {}
    limits.freedIds = {}
    if freedCount > 0 then
      local recent = redis.call('ZRANGEBYSCORE', rateKey, '-inf', expiredUpTo, 'WITHSCORES', 'LIMIT', 0, maxLeased)
      for i = 2, #recent, 2 do
        limits.freedIds[#limits.freedIds + 1] = recent[i - 1]
        limits.freed[#limits.freed + 1] = tonumber(recent[i]) + periodMs
      end
    end
    limits.rateBudget = rateLimit - (redis.call('ZCARD', rateKey) - freedCount)
    limits.nowMs = nowMs
    limits.periodMs = periodMs
    limits.rateLimit = rateLimit
  end
  limits.budget = math.max(0, math.min(limits.rateBudget, limits.capBudget))
  return limits
end

-- Logs leased task ids (members of a flat id, msg, since, id, msg, since... array, as
-- done-and-dequeue.lua replies): the first ones at the times
-- the recently freed slots they take freed, the rest at the limits' time (see the header).
local function logLeases(rateKey, limits, leased)
  if not limits.nowMs or #leased == 0 then
    return
  end
  local entries = {}
  local now = string.format('%d', limits.nowMs)
  local freed = limits.freed
  -- The slots taken lose their old entries (before the new ones go in: an id may be in both).
  local taken = math.min(#freed, #leased / 3)
  if taken > 0 then
    redis.call('ZREM', rateKey, unpack(limits.freedIds, 1, taken))
  end
  for i = 1, #leased, 3 do
    local slot = freed[(i + 2) / 3]
    entries[#entries + 1] = slot and string.format('%d', slot) or now
    entries[#entries + 1] = leased[i]
  end
  for i = 1, #entries, 1000 do
    redis.call('ZADD', rateKey, unpack(entries, i, math.min(i + 999, #entries)))
  end
  -- Kept past the period by the catch-up time: a late lease still finds the slot it takes.
  redis.call('PEXPIRE', rateKey, limits.periodMs + catchUpMs(limits.periodMs))
end

-- After leasing 'taken' tasks under 'limits': how long the worker should leave the queue alone. 0:
-- the limits did not stop the leasing; -1: the concurrency cap is reached (room comes back when a
-- task ends, at no known time); n > 0: the rate allows the next lease in n ms (when enough entries
-- of the log have aged out of the period).
local function limitedFor(rateKey, limits, taken)
  if limits.capBudget <= taken then
    return -1
  end
  if limits.rateBudget > taken then
    return 0
  end
  -- Lowering the limit can leave more entries than it allows: the next lease needs all but
  -- rateLimit - 1 of them gone, so it waits for the entry at that rank.
  local over = redis.call('ZCARD', rateKey) - limits.rateLimit
  local entry = redis.call('ZRANGE', rateKey, over, over, 'WITHSCORES')
  if not entry[2] then
    return 1
  end
  return math.max(1, tonumber(entry[2]) + limits.periodMs - limits.nowMs)
end

-- The worker's hot path in one call: first acknowledges finished tasks, then leases pending ones.
-- A worker at low concurrency would otherwise pay two round trips and two script invocations per
-- task (ack, then fetch the next); either half may be empty (ARGV[3] = 0, or no ack items).
--
-- Commands that take many members (ZREM/ZADD of the lease set, DEL of task hashes, ZADD of the
-- completed set) are issued once per call rather than once per task; the end state is the same.
--
-- Acknowledging, per task: the effects of asynq's done/doneUnique (score "0": the task is deleted)
-- or markAsComplete/markAsCompleteUnique (score > 0: it moves to the completed ZSET with a
-- rewritten message carrying completed_at). Counters are bumped once per call, by the number done.
-- Each finished task goes through lib/task-ended.lua (outcome record, progress clean-up) before
-- its hash is deleted or rewritten: one HMGET per task.
--
-- Leasing, per task: the effects of asynq's dequeue: RPOPLPUSH pending -> active, state=active,
-- pending_since removed, a lease entry. Nothing is leased while the queue is paused. Per-task
-- priority (taskmill extension, lib/priority.lua): tasks of the levels above normal come first,
-- then the pending list, then the levels below. One EXISTS of both the paused flag and the
-- priority ZSET replaces the paused check, so a plain queue pays no extra command for it.
-- Deliberate fix of an asynq quirk: an id whose task hash is missing is dropped from the active
-- list instead of being leased as a hashless entry (which breaks asynqmon's memory-usage script).
--
-- Limits (taskmill extension, lib/limits.lua): a queue with limits leases no more than its rate
-- and concurrency cap allow, and when they are what stops it the reply says for how long the
-- worker should leave the queue alone. When the limits bind, leases stop at the server's free slots
-- (ARGV[11]): a prefetched task would hold a share of the limit that another worker could run now.
-- When those free slots, not the limits, are what stops the leasing, the reply says so (-2), so
-- the worker leaves the queue alone until a slot of its own frees instead of asking again with
-- none. Such a queue never registers for hand-off (an enqueue would lease past the limits).
--
-- Idle registration (taskmill extension, see enqueue.lua's hand-off and lib/idle.lua): when this
-- call found the pending list empty and its leases left some of the server's free slots (ARGV[11])
-- untaken, the server registers those slots for ARGV[8] ms, so the next enqueue can hand it a task
-- directly; otherwise its previous registration for this queue is dropped (ARGV[7] = 1). ARGV[3]
-- may exceed the free slots (the worker prefetches), but only free slots are offered.
-- Registrations of servers that stopped refreshing them are pruned here. Registering reads the
-- Redis server's clock (TIME, the only command it adds, off the hot path: the queue is empty): the
-- expiry is on that clock, and the server's offset from it (ARGV[10] minus Redis's time, in whole
-- seconds) goes into the slots value, so that an enqueue writes a handed-over task's lease in this
-- server's clock whatever the producer's clock says (docs/clocks.md).
--
-- KEYS[1] -> asynq:{<qname>}:pending
-- KEYS[2] -> asynq:{<qname>}:paused
-- KEYS[3] -> asynq:{<qname>}:active
-- KEYS[4] -> asynq:{<qname>}:lease
-- KEYS[5] -> asynq:{<qname>}:completed
-- KEYS[6] -> asynq:{<qname>}:processed:<yyyy-mm-dd>
-- KEYS[7] -> asynq:{<qname>}:processed
-- KEYS[8] -> asynq:{<qname>}:x:handoff-idle (ZSET server id -> registration expiry, unix ms on
--            Redis's clock)
-- KEYS[9] -> asynq:{<qname>}:x:handoff-slots (HASH server id -> free slots × SLOT + BIAS + lease
--            seconds + clock offset seconds; see lib/idle.lua)
-- KEYS[10] -> asynq:{<qname>}:x:prio (ZSET of pending tasks with a level other than normal; see
--             lib/priority.lua)
-- KEYS[11] -> asynq:{<qname>}:x:limits (HASH, see lib/limits.lua)
-- KEYS[12] -> asynq:{<qname>}:x:rate (ZSET task id -> lease time, unix ms on Redis's clock)
-- ARGV[1] -> task key prefix asynq:{<qname>}:t:
-- ARGV[2] -> lease expiry of newly leased tasks, unix seconds
-- ARGV[3] -> maximum number of tasks to lease (0: acknowledge only)
-- ARGV[4] -> daily stats key expiry, unix seconds (now + 90 days)
-- ARGV[5] -> int64 max, where the total counter wraps to 1
-- ARGV[6] -> server id for the idle registration ("" = none)
-- ARGV[7] -> "1" when this server may hold a registration to drop, else "0"
-- ARGV[8] -> how long the registration lasts, ms ("0" = do not register)
-- ARGV[9] -> lease duration in whole seconds (at most 999,999), for tasks handed off to this server
-- ARGV[10] -> current unix time in milliseconds on the server's clock
-- ARGV[11] -> the server's free slots, for the idle registration (and, on a queue whose limits
--             bind, the most this call leases)
-- ARGV[12..] -> five values per finished task: task id, completed-set score (expiry unix seconds;
--              "0" = delete the task), re-encoded message for the completed state ("" when
--              deleting), unique key ("" = none; released only while it still holds this task id),
--              outcome: "" a success without a returned result, "r<bytes>" a success whose
--              handler returned <bytes> (stored as the result field when the task is kept),
--              "v<message>" revoked by its handler (the outcome record says deleted)
--
-- Returns { codes, leased, registered, limited }: codes has one integer per finished task (1 done,
-- 0 not active in this queue, e.g. already recovered elsewhere); leased is a flat array id1, msg1,
-- since1, id2, msg2, since2, ... (since: the task's pending_since, unix ns, or false when it had
-- none: the worker's time-from-enqueue metric); registered is 1 when the server is now registered as idle, else 0; limited is 0
-- unless the queue's limits left pending tasks unleased: then -1 (the concurrency cap: room comes
-- back when a task ends), -2 (the limits allowed more than the server's free slots, which leases
-- stop at when they bind: room comes back when one of its slots frees) or the ms until the rate
-- allows the next lease.

--!include lib/stats.lua
--!include lib/idle.lua
--!include lib/priority.lua
--!include lib/limits.lua
--!include lib/dependents.lua
--!include lib/task-ended.lua
local pendingKey = KEYS[1]
local pausedKey = KEYS[2]
local activeKey = KEYS[3]
local leaseKey = KEYS[4]
local completedKey = KEYS[5]
local processedDayKey = KEYS[6]
local processedTotalKey = KEYS[7]
local idleKey = KEYS[8]
local idleSlotsKey = KEYS[9]
local prioKey = KEYS[10]
local limitsKey = KEYS[11]
local rateKey = KEYS[12]
local taskKeyPrefix = ARGV[1]
local leaseExpiry = ARGV[2]
local maxLeased = tonumber(ARGV[3])
local statsExpireAt = ARGV[4]
local int64Max = ARGV[5]
local server = ARGV[6]
local mayHoldRegistration = ARGV[7]
local registrationTtl = tonumber(ARGV[8])
local handOffLeaseSeconds = tonumber(ARGV[9])
local serverNowMs = tonumber(ARGV[10])
local freeSlots = tonumber(ARGV[11])
-- ARGV[12..]: the finished tasks, five values each (see the header).
local FIRST_FINISHED = 12
local PER_FINISHED = 5

-- Runs cmd(key, <items>) over a list in slices: one command for many tasks, without ever passing
-- unpack() more values than Lua's C stack takes.
local function batched(cmd, key, items, slice)
  for i = 1, #items, slice do
    local last = math.min(i + slice - 1, #items)
    if key then
      redis.call(cmd, key, unpack(items, i, last))
    else
      redis.call(cmd, unpack(items, i, last))
    end
  end
end

local codes = {}
local parents = {}
local finished = {}
local deleted = {}
local completed = {}
for i = FIRST_FINISHED, #ARGV, PER_FINISHED do
  local id = ARGV[i]
  local score = ARGV[i + 1]
  local outcome = ARGV[i + 4]
  local taskKey = taskKeyPrefix .. id
  local code = 0
  -- From the tail, where the oldest active tasks sit: stops at the match instead of scanning the
  -- whole list (asynq passes 0, which differs only if an id is in the active list twice).
  if redis.call('LREM', activeKey, -1, id) > 0 then
    finished[#finished + 1] = id
    local kind = string.sub(outcome, 1, 1)
    local result = nil
    if kind == 'r' then
      result = string.sub(outcome, 2)
    end
    -- The hook's one HMGET also says whether the task has dependents (x_children).
    local ext
    if kind == 'v' then
      ext = taskEnded(taskKeyPrefix, id, 'deleted', nil, string.sub(outcome, 2))
    else
      ext = taskEnded(taskKeyPrefix, id, 'completed', result, nil)
    end
    if ext[4] then
      parents[#parents + 1] = id
    end
    if score == '0' then
      deleted[#deleted + 1] = taskKey
    elseif result then
      completed[#completed + 1] = score
      completed[#completed + 1] = id
      redis.call('HSET', taskKey, 'msg', ARGV[i + 2], 'state', 'completed', 'result', result)
    else
      completed[#completed + 1] = score
      completed[#completed + 1] = id
      redis.call('HSET', taskKey, 'msg', ARGV[i + 2], 'state', 'completed')
    end
    local uniqueKey = ARGV[i + 3]
    if uniqueKey ~= '' and redis.call('GET', uniqueKey) == id then
      redis.call('DEL', uniqueKey)
    end
    code = 1
  end
  codes[#codes + 1] = code
end
local n = #finished
if n > 0 then
  batched('ZREM', leaseKey, finished, 1000)
  batched('DEL', nil, deleted, 1000)
  batched('ZADD', completedKey, completed, 1000)
  addToDailyCounter(processedDayKey, n, statsExpireAt)
  addToTotals(n, int64Max, processedTotalKey, nil)
end
-- Before leasing: a dependent these completions release can be leased by this very call.
for _, id in ipairs(parents) do
  dependentsOnEnd(queueOfTaskPrefix(taskKeyPrefix), id, 'completed', serverNowMs)
end

local leased = {}
local leases = {}
local emptied = false
local taken = 0
-- Tasks leased (taken less ids dropped for a missing hash); leased holds three entries per task.
local leasedCount = 0

-- Leases one id already moved to the active list; an id without a hash leaves the list instead.
local function lease(id)
  taken = taken + 1
  local taskKey = taskKeyPrefix .. id
  -- pending_since is read with the message (one command, as before) for the worker's metrics.
  local fields = redis.call('HMGET', taskKey, 'msg', 'pending_since')
  local msg = fields[1]
  if msg then
    redis.call('HSET', taskKey, 'state', 'active')
    redis.call('HDEL', taskKey, 'pending_since')
    leases[#leases + 1] = leaseExpiry
    leases[#leases + 1] = id
    leased[#leased + 1] = id
    leased[#leased + 1] = msg
    leased[#leased + 1] = fields[2]
    leasedCount = leasedCount + 1
  else
    redis.call('LREM', activeKey, 1, id)
  end
end

-- Neither key exists on a plain, running queue: one command tells that, as the paused check alone did.
local flags = maxLeased > 0 and redis.call('EXISTS', pausedKey, prioKey) or 0
local prioritized = flags > 0 and redis.call('EXISTS', pausedKey) == 0
local limits = nil
local limited = 0
-- The limits bind and allow more than the free slots: those are what this call stops at.
local slotBound = false
if maxLeased > 0 and (flags == 0 or prioritized) then
  limits = leaseBudget(limitsKey, rateKey, activeKey, maxLeased)
  if limits and limits.budget < maxLeased then
    slotBound = freeSlots < limits.budget
    maxLeased = math.min(limits.budget, freeSlots)
  end
  if prioritized then
    for _, id in ipairs(takePrioritized(prioKey, activeKey, maxLeased, true)) do
      lease(id)
    end
  end
  while taken < maxLeased do
    local id = redis.call('RPOPLPUSH', pendingKey, activeKey)
    if not id then
      emptied = true
      break
    end
    lease(id)
  end
  if emptied and prioritized then
    local room = maxLeased - taken
    local below = takePrioritized(prioKey, activeKey, room, false)
    for _, id in ipairs(below) do
      lease(id)
    end
    emptied = #below < room
  end
  batched('ZADD', leaseKey, leases, 1000)
  if limits then
    logLeases(rateKey, limits, leased)
    if not emptied then
      if slotBound then
        limited = -2
      else
        limited = limitedFor(rateKey, limits, leasedCount)
      end
      if limited ~= 0 and redis.call('LLEN', pendingKey) == 0 and redis.call('EXISTS', prioKey) == 0 then
        limited = 0
      end
    end
  end
end

-- Registering overwrites the ZSET entry and the slots value of a previous registration, so the
-- drop is only needed when no new registration follows (the script is atomic: the order within
-- it is not observable).
local registered = 0
local offered = freeSlots - leasedCount
if emptied and offered > 0 and server ~= '' and registrationTtl > 0 and not limits then
  local redisNowMs = redisTimeMs()
  -- Rounded to whole seconds, as lease scores are.
  local offsetSeconds = math.floor((serverNowMs - redisNowMs) / 1000 + 0.5)
  local leaseAndOffset = handOffLeaseSeconds + offsetSeconds
  -- A clock so far off that the sum does not pack below one slot (weeks) gets no hand-offs.
  if leaseAndOffset >= -BIAS and leaseAndOffset < SLOT - BIAS then
    local stale = redis.call('ZRANGEBYSCORE', idleKey, '-inf', string.format('(%d', redisNowMs), 'LIMIT', 0, 100)
    for _, gone in ipairs(stale) do
      dropIdle(idleKey, idleSlotsKey, gone)
    end
    redis.call('ZADD', idleKey, string.format('%d', redisNowMs + registrationTtl), server)
    redis.call('HSET', idleSlotsKey, server, string.format('%d', offered * SLOT + BIAS + leaseAndOffset))
    registered = 1
  end
end
if registered == 0 and mayHoldRegistration == '1' then
  dropIdle(idleKey, idleSlotsKey, server)
end
return { codes, leased, registered, limited }

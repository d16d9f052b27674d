-- Library: dependencies between tasks (docs/workflows.md "Dependencies"). A dependent waits as
-- asynq:{<q>}:x:dep:<id> (a HASH: msg, policy, at, parents, left, and one field "p:<parent ref>"
-- per parent holding "waiting" or the state the parent ended in), listed in asynq:{<q>}:x:waiting.
-- It is no asynq task until it is released, so Go peers never see or run it.
--
-- A parent ref is "<#queue>:<queue><id>" (byte lengths), so queue names and ids may hold any byte.
-- A parent's children are asynq:{<pq>}:x:children:<parent id> (a SET of child refs). When a parent
-- ends, its children in the same queue are settled in the same call; those in other queues go to
-- the parent queue's outbox asynq:{<pq>}:x:dep-outbox (ZSET "<state>:<#parent id>:<parent id>
-- <child ref>" -> unix ms), which servers drain with dep-resolve.lua on the child's slot, and a
-- message on the channel of the same name wakes them. A resolution that reaches a child not
-- created yet is kept in asynq:{<q>}:x:dep-early:<id> (HASH parent ref -> state, with a TTL) for
-- dep-create.lua to consume.
--
-- Keys are built from the queue name; they all carry the queue's hash tag, so a call stays on the
-- one slot its routing key (the caller's KEYS) names.

--!include lib/write-task.lua
--!include lib/priority.lua
--!include lib/task-ended.lua

-- How long a resolution waits for its dependent to be created: far longer than a producer takes
-- between its two steps; a dependent created later is still settled by the repair pass.
local DEP_EARLY_TTL_MS = 86400000

-- Redis's clock in unix ms, for scripts that get no time from their caller.
local function depRedisNowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function queuePrefix(q)
  return 'asynq:{' .. q .. '}:'
end

-- The queue name in a task key prefix asynq:{<q>}:t:.
local function queueOfTaskPrefix(taskKeyPrefix)
  return string.sub(taskKeyPrefix, 8, #taskKeyPrefix - 4)
end

local function depRef(q, id)
  return #q .. ':' .. q .. id
end

-- Returns the queue and the id of a ref.
local function parseRef(ref)
  local colon = string.find(ref, ':', 1, true)
  local length = tonumber(string.sub(ref, 1, colon - 1))
  return string.sub(ref, colon + 1, colon + length), string.sub(ref, colon + length + 1)
end

-- A protobuf varint (values below 2^53).
local function varint(n)
  local out = {}
  repeat
    local byte = n % 128
    n = math.floor(n / 128)
    if n > 0 then
      byte = byte + 128
    end
    out[#out + 1] = string.char(byte)
  until n == 0
  return table.concat(out)
end

-- The message with error_msg (field 7) and last_failed_at (field 11) set: protobuf keeps the last
-- value of a repeated scalar field, so appending them is a valid encoding Go and taskmill decode.
local function withFailure(msg, err, nowSec)
  return msg .. string.char(58) .. varint(#err) .. err .. string.char(88) .. varint(nowSec)
end

-- ctx = { nowMs = <unix ms>, ended = {} }: tasks that ended in this call and whose own children
-- still have to hear about it (a dependent archived or removed by its policy is a parent too).
local function newDepContext(nowMs)
  return { nowMs = tonumber(nowMs), ended = {} }
end

-- Releases a waiting dependent: fate 'pending' (every parent resolved), 'archived' (with reason as
-- its last error) or 'deleted'. Its dependents-to-be registered while it waited ('children', and
-- 'keep' for the outcome record) carry over to its task hash.
local function takeDependent(ctx, q, id, depKey, fate, reason)
  local p = queuePrefix(q)
  local d = redis.call('HMGET', depKey, 'msg', 'keep', 'children', 'parents', 'prio')
  redis.call('DEL', depKey)
  redis.call('ZREM', p .. 'x:waiting', id)
  local taskKey = p .. 't:' .. id
  local level = priorityLevel(d[5])
  if fate == 'pending' then
    writeTask(taskKey, d[1], 'pending', string.format('%d', ctx.nowMs) .. '000000', '')
    local prioKey = p .. 'x:prio'
    local length = pushPending(p .. 'pending', prioKey, p .. 'x:prio-seq', id, level, false)
    if length == 1 or (level and redis.call('ZCARD', prioKey) == 1) then
      redis.call('PUBLISH', p .. 'x:wake', '1')
    end
  elseif fate == 'archived' then
    local nowSec = math.floor(ctx.nowMs / 1000)
    writeTask(taskKey, withFailure(d[1], reason, nowSec), 'archived', nil, '')
    redis.call('ZADD', p .. 'archived', nowSec, id)
  end
  if fate ~= 'deleted' then
    redis.call('HSET', taskKey, 'x_parents', d[4])
    if level then
      redis.call('HSET', taskKey, 'x_prio', level)
    end
    if d[2] then
      redis.call('HSET', taskKey, 'x_keep', d[2])
    end
    if d[3] then
      redis.call('HSET', taskKey, 'x_children', '1')
    end
  end
  if fate == 'deleted' and d[2] and tonumber(d[2]) then
    -- A removed dependent never becomes a task: its outcome record is written here (results).
    writeOutcome(p, id, 'deleted', nil, reason, tonumber(d[2]))
  end
  if fate ~= 'pending' then
    ctx.ended[#ctx.ended + 1] = { q, id, fate }
  end
end

-- One parent of a waiting dependent ended in state; applies the dependent's policy.
local function settleParent(ctx, q, id, depKey, parentRef, state)
  if state ~= 'completed' then
    local policy = redis.call('HGET', depKey, 'policy')
    if policy == 'remove' then
      takeDependent(ctx, q, id, depKey, 'deleted')
      return
    elseif policy ~= 'ignore' then
      local parentQueue, parentId = parseRef(parentRef)
      takeDependent(ctx, q, id, depKey, 'archived',
        'parent task "' .. parentId .. '" in queue "' .. parentQueue .. '" was ' .. state)
      return
    end
  end
  if redis.call('HINCRBY', depKey, 'left', -1) <= 0 then
    takeDependent(ctx, q, id, depKey, 'pending')
  end
end

-- Parent parentRef ended in state; tells dependent id of queue q (on q's slot). Idempotent: a
-- parent already counted is skipped. A dependent not created yet gets an early record; one already
-- released (its task hash exists) needs nothing.
local function parentEnded(ctx, q, id, parentRef, state)
  local p = queuePrefix(q)
  local depKey = p .. 'x:dep:' .. id
  local old = redis.call('HGET', depKey, 'p:' .. parentRef)
  if not old then
    if redis.call('EXISTS', depKey) == 0 and redis.call('EXISTS', p .. 't:' .. id) == 0 then
      local earlyKey = p .. 'x:dep-early:' .. id
      redis.call('HSET', earlyKey, parentRef, state)
      redis.call('PEXPIRE', earlyKey, DEP_EARLY_TTL_MS)
    end
    return
  end
  if old ~= 'waiting' then
    return
  end
  redis.call('HSET', depKey, 'p:' .. parentRef, state)
  settleParent(ctx, q, id, depKey, parentRef, state)
end

-- Tells the children of task parentId (queue q, on q's slot) that it ended in state.
local function notifyChildren(ctx, q, parentId, state)
  local p = queuePrefix(q)
  local childrenKey = p .. 'x:children:' .. parentId
  local refs = redis.call('SMEMBERS', childrenKey)
  if #refs == 0 then
    return
  end
  redis.call('DEL', childrenKey)
  local parentRef = depRef(q, parentId)
  local outbox = p .. 'x:dep-outbox'
  local outboxed = false
  for _, ref in ipairs(refs) do
    local childQueue, childId = parseRef(ref)
    if childQueue == q then
      parentEnded(ctx, q, childId, parentRef, state)
    else
      redis.call('ZADD', outbox, ctx.nowMs, state .. ':' .. #parentId .. ':' .. parentId .. ref)
      outboxed = true
    end
  end
  if outboxed then
    redis.call('PUBLISH', outbox, '1')
  end
end

-- Notifies the children of every task that ended in this call, including dependents that a
-- policy archived or removed on the way (a chain settles in one call while it stays in one queue).
local function drainEnded(ctx)
  local i = 1
  while i <= #ctx.ended do
    local e = ctx.ended[i]
    notifyChildren(ctx, e[1], e[2], e[3])
    i = i + 1
  end
end

-- The hook where a task ends (lib/task-ended.lua): when its hash had x_children, its dependents
-- hear that it ended in state.
local function dependentsOnEnd(q, id, state, nowMs)
  local ctx = newDepContext(nowMs)
  ctx.ended[1] = { q, id, state }
  drainEnded(ctx)
end

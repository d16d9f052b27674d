-- Step 2 of enqueueing a dependent (taskmill extension, docs/workflows.md "Dependencies"), on the
-- child's queue slot, after dep-register.lua ran on every parent's slot: stores the dependent as
-- waiting with the parents that already ended counted, plus any resolution that arrived before it
-- existed (its early record), and releases it at once when nothing is left to wait for.
--
-- Task-id conflicts span tasks and waiting dependents. The same message under the same id is this
-- very dependent stored by an earlier run (a retried call): reported created, nothing written.
--
-- KEYS[1] -> asynq:{<qname>}:x:waiting (ZSET id -> enqueue time, unix ms)
-- ARGV[1] -> queue name
-- ARGV[2] -> task id
-- ARGV[3] -> encoded TaskMessage
-- ARGV[4] -> policy when a parent is archived, deleted or canceled: fail, ignore or remove
-- ARGV[5] -> now, unix ms
-- ARGV[6] -> priority level 0-100 once released, or empty for normal (see lib/priority.lua)
-- ARGV[7] -> outcome record TTL in ms (the resultTTL option; 'keep', x_keep once released), 0: none
-- ARGV[8..] -> pairs: parent ref "<#queue>:<queue><id>", the state dep-register.lua reported
--
-- Returns { code, state }: code 1 created (or already stored), 0 id conflict; state is where the
-- task is now: waiting, pending, archived, deleted (removed by its policy), or its task state.

--!include lib/dependents.lua
local waitingKey = KEYS[1]
local queueName = ARGV[1]
local id = ARGV[2]
local msg = ARGV[3]
local policy = ARGV[4]
local nowMs = ARGV[5]
local priority = ARGV[6]
local keepMs = tonumber(ARGV[7])
-- ARGV[8..]: the parents, two values each.
local FIRST_PARENT = 8

local p = queuePrefix(queueName)
local taskKey = p .. 't:' .. id
local depKey = p .. 'x:dep:' .. id
local earlyKey = p .. 'x:dep-early:' .. id

local stored = redis.call('HGET', taskKey, 'msg')
if stored then
  if stored ~= msg then
    return { 0, '' }
  end
  return { 1, redis.call('HGET', taskKey, 'state') }
end
stored = redis.call('HGET', depKey, 'msg')
if stored then
  if stored ~= msg then
    return { 0, '' }
  end
  return { 1, 'waiting' }
end

local refs = {}
local fields = { 'msg', msg, 'policy', policy, 'at', nowMs, 'left', (#ARGV - FIRST_PARENT + 1) / 2 }
local ended = {}
for i = FIRST_PARENT, #ARGV, 2 do
  local ref = ARGV[i]
  refs[#refs + 1] = #ref .. ':' .. ref
  fields[#fields + 1] = 'p:' .. ref
  fields[#fields + 1] = 'waiting'
  if ARGV[i + 1] ~= 'waiting' then
    ended[#ended + 1] = { ref, ARGV[i + 1] }
  end
end
fields[#fields + 1] = 'parents'
fields[#fields + 1] = table.concat(refs)
if priority ~= '' then
  fields[#fields + 1] = 'prio'
  fields[#fields + 1] = priority
end
if keepMs > 0 then
  fields[#fields + 1] = 'keep'
  fields[#fields + 1] = string.format('%d', keepMs)
end
for i = 1, #fields, 1000 do
  redis.call('HSET', depKey, unpack(fields, i, math.min(i + 999, #fields)))
end
redis.call('ZADD', waitingKey, nowMs, id)
local early = redis.call('HGETALL', earlyKey)
for i = 1, #early, 2 do
  ended[#ended + 1] = { early[i], early[i + 1] }
end
redis.call('DEL', earlyKey)

local ctx = newDepContext(nowMs)
for _, e in ipairs(ended) do
  if redis.call('EXISTS', depKey) == 0 then
    break
  end
  parentEnded(ctx, queueName, id, e[1], e[2])
end
drainEnded(ctx)
if redis.call('EXISTS', depKey) == 1 then
  return { 1, 'waiting' }
end
return { 1, redis.call('HGET', taskKey, 'state') or 'deleted' }

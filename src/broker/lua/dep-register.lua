-- Step 1 of enqueueing a dependent (taskmill extension, docs/workflows.md "Dependencies"), on one
-- parent queue's slot: registers the child with each of its parents in this queue and reports each
-- parent's state, so the child can be created with the parents that already ended counted.
--
-- A live parent (any asynq state but completed/archived) gets the child in its children SET and
-- x_children / x_keep (the outcome record's TTL, raised, never lowered) on its hash, so that the
-- script ending it notifies the child and keeps its result. A parent that is itself a waiting
-- dependent records the same in its dependency hash ('children', 'keep'), carried over when it is
-- released. A parent whose hash is gone is judged by its outcome record; without one it is
-- reported missing. Idempotent: running it again changes nothing (the repair pass relies on it).
--
-- KEYS[1] -> asynq:{<qname>}:x:waiting (routes the call to the queue's slot; the other keys are
--            built from the queue name and share its hash tag)
-- ARGV[1] -> queue name
-- ARGV[2] -> the child's ref "<#queue>:<queue><id>"
-- ARGV[3] -> outcome record TTL for the parents, ms (x_keep)
-- ARGV[4..] -> parent task ids
--
-- Returns one string per parent: 'waiting' (registered), 'completed', 'archived', 'canceled',
-- 'deleted' (from its hash or outcome record) or 'missing'.

--!include lib/dependents.lua
local waitingKey = KEYS[1]
local queueName = ARGV[1]
local childRef = ARGV[2]
local keepMs = tonumber(ARGV[3])
-- ARGV[4..]: the parent ids.
local FIRST_PARENT = 4

local p = queuePrefix(queueName)
local function raiseKeep(key, field)
  local current = tonumber(redis.call('HGET', key, field))
  if not current or current < keepMs then
    redis.call('HSET', key, field, keepMs)
  end
end

local states = {}
for i = FIRST_PARENT, #ARGV do
  local id = ARGV[i]
  local taskKey = p .. 't:' .. id
  local state = redis.call('HGET', taskKey, 'state')
  if state == 'completed' or state == 'archived' then
    states[#states + 1] = state
  elseif state then
    redis.call('SADD', p .. 'x:children:' .. id, childRef)
    redis.call('HSET', taskKey, 'x_children', '1')
    raiseKeep(taskKey, 'x_keep')
    states[#states + 1] = 'waiting'
  elseif redis.call('ZSCORE', waitingKey, id) then
    local depKey = p .. 'x:dep:' .. id
    redis.call('SADD', p .. 'x:children:' .. id, childRef)
    redis.call('HSET', depKey, 'children', '1')
    raiseKeep(depKey, 'keep')
    states[#states + 1] = 'waiting'
  else
    states[#states + 1] = redis.call('HGET', p .. 'x:result:' .. id, 'state') or 'missing'
  end
end
return states

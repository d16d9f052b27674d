-- Replaces the message of a scheduled task (the caller re-encodes it with the new payload).
-- Mirrors asynq's updateTaskPayload, with one guard more: the message must still be the one the
-- caller read, so an update never overwrites a change made between the read and this script.
--
-- KEYS[1] -> asynq:{<qname>}:t:<task_id>
-- ARGV[1] -> the message the caller read (TaskMessage protobuf)
-- ARGV[2] -> the new message
--
-- Returns 1 when updated, 0 when the task does not exist, 'changed' when its message is no longer
-- ARGV[1], or its state when it is not scheduled.

local taskKey = KEYS[1]
local readMsg = ARGV[1]
local newMsg = ARGV[2]

local fields = redis.call('HMGET', taskKey, 'state', 'msg')
local state = fields[1]
if not state then
  return 0
end
if state ~= 'scheduled' then
  return state
end
if fields[2] ~= readMsg then
  return 'changed'
end
redis.call('HSET', taskKey, 'msg', newMsg)
return 1

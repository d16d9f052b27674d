-- Stores a running task's progress (taskmill extension; docs/workflows.md "Progress"): the value
-- with a TTL in asynq:{<qname>}:x:progress:<id>, the field x_progress on the task hash (so that
-- lib/task-ended.lua deletes the progress key with the task, at the cost of nothing for tasks that
-- never report progress), and a message on the queue's progress channel. Written only while the
-- task is active: a write that arrives after the task ended would outlive it.
--
-- KEYS[1] -> asynq:{<qname>}:t:<task_id>
-- KEYS[2] -> asynq:{<qname>}:x:progress:<task_id>
-- ARGV[1] -> the progress, JSON {"percent":..,"message":..,"at":..}
-- ARGV[2] -> the progress key's TTL, ms
-- ARGV[3] -> progress channel asynq:{<qname>}:x:progress
-- ARGV[4] -> the channel message "<#id>:<id><progress JSON>"
--
-- Returns 1 when written, 0 when the task is not active.

local taskKey = KEYS[1]
local progressKey = KEYS[2]
local progress = ARGV[1]
local ttlMs = ARGV[2]
local channel = ARGV[3]
local message = ARGV[4]

if redis.call('HGET', taskKey, 'state') ~= 'active' then
  return 0
end
redis.call('HSETNX', taskKey, 'x_progress', '1')
redis.call('SET', progressKey, progress, 'PX', ttlMs)
redis.call('PUBLISH', channel, message)
return 1

-- Reads one task for the inspector. Mirrors asynq's getTaskInfo script.
--
-- KEYS[1] -> asynq:{<qname>}:t:<task_id>
-- ARGV[1] -> task id
-- ARGV[2] -> now, unix seconds
-- ARGV[3] -> queue key prefix asynq:{<qname>}:
--
-- Returns msg, state, next process time (unix seconds; 0 = none), result; or nil when missing.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return nil
end
local fields = redis.call('HMGET', KEYS[1], 'msg', 'state', 'result')
local state = fields[2]
local nextProcessAt = 0
if state == 'scheduled' or state == 'retry' then
  nextProcessAt = redis.call('ZSCORE', ARGV[3] .. state, ARGV[1])
elseif state == 'pending' then
  nextProcessAt = ARGV[2]
end
return { fields[1], state, nextProcessAt, fields[3] or '' }

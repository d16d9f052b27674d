-- Reads what a waitForResult needs to know about one task, and makes sure a live task will leave
-- an outcome record (taskmill extension, lib/task-ended.lua; docs/workflows.md "Results").
--
-- - The task hash exists and the task is live (pending, active, scheduled, retry, aggregating...):
--   x_keep is raised to at least ARGV[1] ms, so that the script that ends it writes the record and
--   announces it, and a record left by an earlier task with this id is deleted (a live task has no
--   outcome yet). Returns { 'live' }.
-- - The task is completed or archived (its hash kept): returns its record when it has one, else
--   { 'hash', state, msg, result } so the caller reads the result or the last error from the hash.
-- - No task hash but a waiting dependent (dependsOn, lib/dependents.lua: asynq:{<qname>}:x:dep:<id>):
--   it is live too; its 'keep' field is raised the same way (it becomes x_keep on release) and a
--   stale record deleted. Returns { 'live' }.
-- - The task hash is gone: returns its record, or { 'missing' }.
-- A record is returned as { 'record', state, result, error, at } (false for a missing field).
--
-- KEYS[1] -> asynq:{<qname>}:t:<task_id>
-- KEYS[2] -> asynq:{<qname>}:x:result:<task_id>
-- KEYS[3] -> asynq:{<qname>}:x:dep:<task_id> (a waiting dependent's record)
-- ARGV[1] -> the record TTL to ask for, ms
--
-- Returns one of the replies above.

local taskKey = KEYS[1]
local recordKey = KEYS[2]
local dependentKey = KEYS[3]
local keepMs = tonumber(ARGV[1])

local fields = redis.call('HMGET', taskKey, 'state', 'x_keep', 'msg', 'result')
local state = fields[1]
if state and state ~= 'completed' and state ~= 'archived' then
  redis.call('DEL', recordKey)
  local keep = tonumber(fields[2] or '0') or 0
  if keep < keepMs then
    redis.call('HSET', taskKey, 'x_keep', string.format('%d', keepMs))
  end
  return { 'live' }
end
if not state and redis.call('EXISTS', dependentKey) == 1 then
  redis.call('DEL', recordKey)
  local keep = tonumber(redis.call('HGET', dependentKey, 'keep') or '0') or 0
  if keep < keepMs then
    redis.call('HSET', dependentKey, 'keep', string.format('%d', keepMs))
  end
  return { 'live' }
end
local record = redis.call('HMGET', recordKey, 'state', 'result', 'error', 'at')
if record[1] then
  return { 'record', record[1], record[2], record[3], record[4] }
end
if state then
  return { 'hash', state, fields[3], fields[4] }
end
return { 'missing' }

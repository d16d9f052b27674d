-- Lists one page of a queue's tasks in one state, with their messages, scores and results, for
-- the inspector. Mirrors asynq's listMessages (pending, active: a list) and listZSetEntries
-- (scheduled, retry, archived, completed, a group: a sorted set, ascending score). Unlike asynq it
-- reads ids and hashes in one script, so a task that moves meanwhile is never listed without its
-- message; an id whose hash is missing is skipped. Active tasks come with their lease expiry, from
-- which the caller tells orphaned ones (asynq's IsOrphaned).
--
-- KEYS[1] -> the container: asynq:{<qname>}:pending, :active, :scheduled, :retry, :archived,
--            :completed or :g:<group>
-- KEYS[2] -> asynq:{<qname>}:lease (read for the active list only)
-- ARGV[1] -> 'list' (pending), 'active' (a list, with lease expiries) or 'zset'
-- ARGV[2] -> first index (LRANGE / ZRANGE by rank; negative counts from the right, as LRANGE's)
-- ARGV[3] -> last index, inclusive
-- ARGV[4] -> task key prefix asynq:{<qname>}:t:
--
-- Returns a flat array of id, msg, score (unix seconds: the sorted-set score, the lease expiry
-- for the active list, '' for pending), result ('' when none), in the container's order.

local containerKey = KEYS[1]
local leaseKey = KEYS[2]
local kind = ARGV[1]
local first = ARGV[2]
local last = ARGV[3]
local taskKeyPrefix = ARGV[4]

local ids
local scores = {}
if kind == 'list' then
  ids = redis.call('LRANGE', containerKey, first, last)
elseif kind == 'active' then
  ids = redis.call('LRANGE', containerKey, first, last)
  for i, id in ipairs(ids) do
    scores[i] = redis.call('ZSCORE', leaseKey, id)
  end
else
  local flat = redis.call('ZRANGE', containerKey, first, last, 'WITHSCORES')
  ids = {}
  for i = 1, #flat, 2 do
    ids[#ids + 1] = flat[i]
    scores[#ids] = flat[i + 1]
  end
end
local out = {}
for i, id in ipairs(ids) do
  local fields = redis.call('HMGET', taskKeyPrefix .. id, 'msg', 'result')
  if fields[1] then
    out[#out + 1] = id
    out[#out + 1] = fields[1]
    out[#out + 1] = scores[i] or ''
    out[#out + 1] = fields[2] or ''
  end
end
return out

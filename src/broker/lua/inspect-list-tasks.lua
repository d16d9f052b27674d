-- Lists one page of a queue's tasks in one state, with their messages, scores and results, for
-- the inspector. Mirrors asynq's listMessages (pending, active: a list) and listZSetEntries
-- (scheduled, retry, archived, completed, a group: a sorted set, ascending score). Unlike asynq it
-- reads ids and hashes in one script, so a task that moves meanwhile is never listed without its
-- message; an id whose hash is missing is skipped. Active tasks come with their lease expiry, from
-- which the caller tells orphaned ones (asynq's IsOrphaned).
--
-- Pending ('pending') is listed in run order (taskmill extension, lib/priority.lua): the
-- prioritized tasks of the levels above normal, the pending list from its right end, then the
-- levels below normal; ranks count over the three parts as one.
--
-- KEYS[1] -> the container: asynq:{<qname>}:pending, :active, :scheduled, :retry, :archived,
--            :completed or :g:<group>
-- KEYS[2] -> asynq:{<qname>}:lease (read for the active list only)
-- KEYS[3] -> asynq:{<qname>}:x:prio (read for pending only)
-- ARGV[1] -> 'pending' (the list and the priority ZSET, in run order), 'active' (a list, with
--            lease expiries) or 'zset'
-- ARGV[2] -> first index (LRANGE / ZRANGE by rank; negative counts from the right, as LRANGE's;
--            pending: a rank in run order, not negative)
-- ARGV[3] -> last index, inclusive
-- ARGV[4] -> task key prefix asynq:{<qname>}:t:
--
-- Returns a flat array of id, msg, score (unix seconds: the sorted-set score, the lease expiry
-- for the active list, '' for pending), result ('' when none), priority level ('' = normal), in
-- the container's order.

--!include lib/priority.lua
local containerKey = KEYS[1]
local leaseKey = KEYS[2]
local prioKey = KEYS[3]
local kind = ARGV[1]
local first = ARGV[2]
local last = ARGV[3]
local taskKeyPrefix = ARGV[4]

local ids
local scores = {}
if kind == 'pending' then
  ids = {}
  local from = tonumber(first)
  local to = tonumber(last)
  local function append(part)
    for _, id in ipairs(part) do
      ids[#ids + 1] = id
    end
  end
  -- Each part covers ranks [offset, offset + size); a page takes what falls into it from each.
  local above = redis.call('ZCOUNT', prioKey, '-inf', PRIO_ABOVE_NORMAL_END)
  local listed = redis.call('LLEN', containerKey)
  if from < above then
    append(redis.call('ZRANGE', prioKey, from, math.min(to, above - 1)))
  end
  local offset = above
  if listed > 0 and to >= offset and from < offset + listed then
    -- Run order is from the right end: rank r of the list is index -(r + 1).
    local a = math.max(from, offset) - offset
    local b = math.min(to, offset + listed - 1) - offset
    local part = redis.call('LRANGE', containerKey, -(b + 1), -(a + 1))
    for i = #part, 1, -1 do
      ids[#ids + 1] = part[i]
    end
  end
  offset = offset + listed
  if to >= offset then
    append(redis.call('ZRANGE', prioKey, above + math.max(from, offset) - offset, above + to - offset))
  end
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
  local fields = redis.call('HMGET', taskKeyPrefix .. id, 'msg', 'result', 'x_prio')
  if fields[1] then
    out[#out + 1] = id
    out[#out + 1] = fields[1]
    out[#out + 1] = scores[i] or ''
    out[#out + 1] = fields[2] or ''
    out[#out + 1] = fields[3] or ''
  end
end
return out

-- Library: taking a task out of its queue for the inspector scripts, so that no id is ever left
-- without its hash, no hash without its id, and no unique lock naming a deleted task (issue 13
-- item 5). Keys are built from the queue's prefixes, so they share the queue's hash slot. Every
-- removal also drops the task's precise due record (dueKey, asynq:{<qname>}:x:due: a taskmill
-- extension the forwarder would otherwise drop only once its time has passed).

-- Releases the task's unique lock when the lock still names this task (asynq's rule: a lock that
-- a newer task took after this one's expired is not ours to delete).
local function releaseUniqueLock(taskKey, id)
  local lock = redis.call('HGET', taskKey, 'unique_key')
  if lock and lock ~= '' and redis.call('GET', lock) == id then
    redis.call('DEL', lock)
  end
end

-- Deletes a task's hash, its due record and, if it holds it, its unique lock. The caller removes
-- the id from its container.
local function deleteTaskHash(taskKeyPrefix, dueKey, id)
  local taskKey = taskKeyPrefix .. id
  releaseUniqueLock(taskKey, id)
  redis.call('DEL', taskKey)
  redis.call('ZREM', dueKey, id)
end

-- Removes a task id from its group's sorted set, and the group name from the groups set once the
-- group is empty (the aggregator visits only the groups listed there). Returns whether the id was
-- in the group.
local function leaveGroup(groupsKey, groupKeyPrefix, group, id)
  local groupKey = groupKeyPrefix .. group
  local removed = redis.call('ZREM', groupKey, id)
  if redis.call('ZCARD', groupKey) == 0 then
    redis.call('SREM', groupsKey, group)
  end
  return removed == 1
end

-- Removes an aggregating task's id from the aggregation set an aggregation in progress moved it
-- into: otherwise enqueueing the set's aggregate would delete this task's hash with the set, and a
-- reclaim would put the id back into its group, wherever the task is by then. Ids are unique in a
-- queue, so removing it from every registered set touches only the one holding it. (asynq's
-- inspector refuses to run, archive or delete such a task.)
local function leaveAggregationSets(aggregationSetsKey, id)
  for _, setKey in ipairs(redis.call('ZRANGE', aggregationSetsKey, 0, -1)) do
    redis.call('ZREM', setKey, id)
  end
end

-- Removes a task id from the container its state names: the pending list or the priority ZSET
-- (x:prio, lib/priority.lua), its group, or the queue's sorted set of that state. Active tasks are
-- never passed here (the scripts refuse them).
local function leaveContainer(queueKeyPrefix, groupKeyPrefix, dueKey, taskKey, id, state)
  if state == 'pending' then
    if redis.call('LREM', queueKeyPrefix .. 'pending', 0, id) == 0 then
      redis.call('ZREM', queueKeyPrefix .. 'x:prio', id)
    end
  elseif state == 'aggregating' then
    local group = redis.call('HGET', taskKey, 'group') or ''
    if not leaveGroup(queueKeyPrefix .. 'groups', groupKeyPrefix, group, id) then
      leaveAggregationSets(queueKeyPrefix .. 'aggregation_sets', id)
    end
  else
    redis.call('ZREM', queueKeyPrefix .. state, id)
    -- Only scheduled and retry tasks have one; the task is no longer due at that time.
    redis.call('ZREM', dueKey, id)
  end
end

-- Trims the archive as a new archive does (asynq: older than the cutoff, beyond the size bound),
-- deleting the trimmed tasks' hashes and locks rather than leaving them without an id. Trims
-- before the caller adds its tasks, so a task archived now is never the one trimmed.
local function trimArchive(archivedKey, taskKeyPrefix, dueKey, ageCutoff, sizeBound, adding)
  local stale = redis.call('ZRANGE', archivedKey, '-inf', ageCutoff, 'BYSCORE')
  local keep = sizeBound - 1 - adding
  local excess = {}
  if keep <= 0 then
    excess = redis.call('ZRANGE', archivedKey, 0, -1)
  else
    excess = redis.call('ZRANGE', archivedKey, 0, -(keep + 1))
  end
  for _, list in ipairs({ stale, excess }) do
    for _, id in ipairs(list) do
      deleteTaskHash(taskKeyPrefix, dueKey, id)
      redis.call('ZREM', archivedKey, id)
    end
  end
end

-- Takes up to batch ids off a bulk operation's source: the oldest end of a list (its right end,
-- where the next task runs from) or the lowest scores of a sorted set. The ids leave the source
-- here; the bulk scripts work in batches so that no single call blocks Redis for long.
local function takeBatch(sourceKey, kind, batch)
  local ids
  if kind == 'list' then
    ids = redis.call('LRANGE', sourceKey, -batch, -1)
    if #ids > 0 then
      redis.call('LTRIM', sourceKey, 0, -(#ids + 1))
    end
  else
    ids = redis.call('ZRANGE', sourceKey, 0, batch - 1)
    for _, id in ipairs(ids) do
      redis.call('ZREM', sourceKey, id)
    end
  end
  return ids
end

-- After a batch of a group's tasks left it: the group leaves the groups set once empty.
local function dropGroupIfEmpty(groupsKey, sourceKey, group)
  if group ~= '' and redis.call('ZCARD', sourceKey) == 0 then
    redis.call('SREM', groupsKey, group)
  end
end

-- How many ids a container holds: a list (pending, active) or a sorted set (kind 'zset').
local function containerSize(key, kind)
  if kind == 'list' then
    return redis.call('LLEN', key)
  end
  return redis.call('ZCARD', key)
end

-- The bulk scripts' source of the pending state: the list, then the priority ZSET (prioKey,
-- lib/priority.lua). kind 'pending' names both; any other kind is takeBatch's.
local function takeSourceBatch(sourceKey, prioKey, kind, batch)
  if kind ~= 'pending' then
    return takeBatch(sourceKey, kind, batch)
  end
  local ids = takeBatch(sourceKey, 'list', batch)
  if #ids < batch then
    for _, id in ipairs(takeBatch(prioKey, 'zset', batch - #ids)) do
      ids[#ids + 1] = id
    end
  end
  return ids
end

-- How many ids a bulk script's source holds (kind as takeSourceBatch's).
local function sourceSize(sourceKey, prioKey, kind)
  if kind ~= 'pending' then
    return containerSize(sourceKey, kind)
  end
  return redis.call('LLEN', sourceKey) + redis.call('ZCARD', prioKey)
end

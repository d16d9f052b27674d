-- Library: deleting tasks that a sorted set lists.

-- Deletes the hashes of the tasks with these ids and removes the ids from the sorted set.
local function deleteTasks(setKey, taskKeyPrefix, ids)
  for _, id in ipairs(ids) do
    redis.call('DEL', taskKeyPrefix .. id)
    redis.call('ZREM', setKey, id)
  end
end

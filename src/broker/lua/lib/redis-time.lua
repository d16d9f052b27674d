-- Library: the Redis server's clock, for the scripts that must not depend on a caller's clock
-- (hand-off registrations, outcome records).

-- The Redis server's clock in unix ms. Writes may follow TIME in a script because Redis (5 and
-- later, by default; 7 always) replicates a script's effects rather than the script itself.
local function redisTimeMs()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end

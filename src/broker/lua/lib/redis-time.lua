-- Library: the Redis server's clock, for the scripts that must not depend on a caller's clock
-- (hand-off registrations, outcome records).

-- The first reading, kept for the rest of the script: a call that ends many tasks stamps every
-- outcome record with one TIME instead of one each (a command costs a few microseconds per task on
-- the acknowledgement path), and a script's moments are one moment anyway.
local redisTimeMsOfThisCall

-- The Redis server's clock in unix ms. Writes may follow TIME in a script because Redis (5 and
-- later, by default; 7 always) replicates a script's effects rather than the script itself.
local function redisTimeMs()
  if not redisTimeMsOfThisCall then
    local time = redis.call('TIME')
    redisTimeMsOfThisCall = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  end
  return redisTimeMsOfThisCall
end

-- Writes a server's ServerInfo and the WorkerInfo of each task it is running. Mirrors asynq's
-- writeServerState script; the caller ZADDs the keys to asynq:servers / asynq:workers first.
--
-- KEYS[1] -> asynq:servers:{<host>:<pid>:<server_id>}
-- KEYS[2] -> asynq:workers:{<host>:<pid>:<server_id>}
-- ARGV[1] -> TTL in seconds
-- ARGV[2] -> encoded ServerInfo
-- ARGV[3..] -> alternating task id and encoded WorkerInfo
--
-- Returns OK.

local serverInfoKey = KEYS[1]
local workersKey = KEYS[2]
local ttlSeconds = ARGV[1]
local serverInfo = ARGV[2]

redis.call('SETEX', serverInfoKey, ttlSeconds, serverInfo)
redis.call('DEL', workersKey)
for i = 3, #ARGV, 2 do
  redis.call('HSET', workersKey, ARGV[i], ARGV[i + 1])
end
redis.call('EXPIRE', workersKey, ttlSeconds)
return redis.status_reply('OK')

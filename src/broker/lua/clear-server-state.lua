-- Deletes a server's ServerInfo and WorkerInfo keys at shutdown. Mirrors asynq's clearServerState;
-- the caller ZREMs the keys from asynq:servers / asynq:workers first.
--
-- KEYS[1] -> asynq:servers:{<host>:<pid>:<server_id>}
-- KEYS[2] -> asynq:workers:{<host>:<pid>:<server_id>}
--
-- Returns OK.

local serverInfoKey = KEYS[1]
local workersKey = KEYS[2]

redis.call('DEL', serverInfoKey)
redis.call('DEL', workersKey)
return redis.status_reply('OK')

-- Deletes a server's ServerInfo and WorkerInfo keys at shutdown. Mirrors asynq's clearServerState;
-- the caller ZREMs the keys from asynq:servers / asynq:workers first.
--
-- KEYS[1] -> asynq:servers:{<host>:<pid>:<server_id>}
-- KEYS[2] -> asynq:workers:{<host>:<pid>:<server_id>}
--
-- Returns OK.
redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[2])
return redis.status_reply('OK')

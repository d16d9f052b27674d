-- Library: the idle registrations of taskmill servers on one queue (taskmill extension; see
-- enqueue.lua's hand-off and done-and-dequeue.lua's registration). A registration is an entry in
-- the idle ZSET (server id -> expiry, unix ms on the Redis server's clock) and a value in the
-- idle-slots HASH (server id -> free slots × SLOT + BIAS + lease seconds + the server's clock offset
-- from Redis in seconds), packed so that enqueue.lua takes a slot and reads what it needs for the
-- lease with one HINCRBY: each command in a script costs a few microseconds on the hand-off path.
--
-- Clocks (docs/clocks.md): the producer's clock takes no part. Registrations are judged by Redis's
-- clock (TIME), and a handed-over task's lease score is Redis's time plus the server's offset plus
-- its lease, which is the server's own clock, as the lease scores it writes itself are.

--!include lib/redis-time.lua

-- One slot in an idle-slots value (broker.ts: IDLE_SLOT_UNIT).
local SLOT = 10000000
-- Keeps lease seconds + offset, negative for a server far behind Redis, positive below one slot
-- (broker.ts: IDLE_LEASE_BIAS).
local BIAS = 5000000

-- Removes a server's registration.
local function dropIdle(idleKey, idleSlotsKey, server)
  redis.call('ZREM', idleKey, server)
  redis.call('HDEL', idleSlotsKey, server)
end

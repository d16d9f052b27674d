-- Library: the idle registrations of taskmill servers on one queue (taskmill extension; see
-- enqueue.lua's hand-off and done-and-dequeue.lua's registration). A registration is an entry in
-- the idle ZSET (server id -> expiry) and a value in the idle-slots HASH (server id -> free slots ×
-- SLOT + lease seconds, packed so that enqueue.lua takes a slot and reads the lease with one
-- HINCRBY: each command in a script costs a few microseconds on the hand-off path).

-- One slot in an idle-slots value; lease seconds stay below it (broker.ts: IDLE_SLOT_UNIT).
local SLOT = 1000000

-- Removes a server's registration.
local function dropIdle(idleKey, idleSlotsKey, server)
  redis.call('ZREM', idleKey, server)
  redis.call('HDEL', idleSlotsKey, server)
end

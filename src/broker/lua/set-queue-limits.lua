-- Sets or clears a queue's limits (taskmill extension, see lib/limits.lua): the HASH
-- asynq:{<qname>}:x:limits that every worker's dequeue reads. The whole configuration is replaced:
-- a limit not given is removed, and with none given the HASH is deleted. Without a rate the lease
-- log goes too; a changed rate keeps it, so the leases of the last period still count.
--
-- Setting limits also removes every idle registration for hand-off on the queue, in this same call:
-- an enqueue hands tasks to registered servers without checking limits, and a queue with limits is
-- never registered again (done-and-dequeue.lua), so from this call on every lease is checked. A
-- server that believed itself registered just receives no hand-offs.
--
-- KEYS[1] -> asynq:{<qname>}:x:limits
-- KEYS[2] -> asynq:{<qname>}:x:rate
-- KEYS[3] -> asynq:{<qname>}:x:handoff-idle
-- KEYS[4] -> asynq:{<qname>}:x:handoff-slots
-- ARGV[1] -> rate limit, tasks per period ("" = no rate)
-- ARGV[2] -> rate period, ms ("" = no rate)
-- ARGV[3] -> concurrency cap ("" = none)
--
-- Returns 1 when the queue now has limits, 0 when it has none.

local limitsKey = KEYS[1]
local rateKey = KEYS[2]
local idleKey = KEYS[3]
local idleSlotsKey = KEYS[4]
local rateLimit = ARGV[1]
local ratePeriodMs = ARGV[2]
local concurrency = ARGV[3]

local hasRate = rateLimit ~= '' and ratePeriodMs ~= ''
if not hasRate then
  redis.call('DEL', rateKey)
end
if not hasRate and concurrency == '' then
  redis.call('DEL', limitsKey)
  return 0
end
redis.call('DEL', limitsKey, idleKey, idleSlotsKey)
if hasRate then
  redis.call('HSET', limitsKey, 'rate_limit', rateLimit, 'rate_period_ms', ratePeriodMs)
end
if concurrency ~= '' then
  redis.call('HSET', limitsKey, 'concurrency', concurrency)
end
return 1

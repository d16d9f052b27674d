-- Step 4 of a dependency across queues (taskmill extension, docs/workflows.md "Dependencies"), on
-- the children's queue slot: applies "parent X ended in state S" to each named child, as a server
-- draining a parent queue's outbox (or the repair pass) found it. Idempotent: a parent already
-- counted is skipped, so an outbox entry applied twice (a resolver killed before removing it) does
-- nothing the second time.
--
-- KEYS[1] -> asynq:{<qname>}:x:waiting (routes the call to the queue's slot; the other keys are
--            built from the queue name and share its hash tag)
-- ARGV[1] -> queue name (the children's)
-- ARGV[2] -> now, unix ms
-- ARGV[3..] -> triples: child id, parent ref "<#queue>:<queue><id>", the parent's end state
--
-- Returns the number of triples applied.

--!include lib/dependents.lua
local waitingKey = KEYS[1]
local queueName = ARGV[1]
local nowMs = ARGV[2]
-- ARGV[3..]: the resolutions, three values each.
local FIRST_RESOLUTION = 3

local ctx = newDepContext(nowMs)
local n = 0
for i = FIRST_RESOLUTION, #ARGV, 3 do
  parentEnded(ctx, queueName, ARGV[i], ARGV[i + 1], ARGV[i + 2])
  n = n + 1
end
drainEnded(ctx)
return n

-- Library: asynq's per-queue counters. Daily counters (processed:<date>, failed:<date>) expire 90
-- days after they are created; the totals (processed, failed) wrap to the added count once the
-- processed total has reached int64 max, both together, as asynq does.

-- Adds n to a daily counter, giving it its expiry (unix seconds) when this call created it.
local function addToDailyCounter(key, n, expireAt)
  if redis.call('INCRBY', key, n) == n then
    redis.call('EXPIREAT', key, expireAt)
  end
end

-- Adds n to the processed total and, when failedTotalKey is given, to the failed total.
local function addToTotals(n, int64Max, processedTotalKey, failedTotalKey)
  if redis.call('GET', processedTotalKey) == int64Max then
    redis.call('SET', processedTotalKey, n)
    if failedTotalKey then
      redis.call('SET', failedTotalKey, n)
    end
  else
    redis.call('INCRBY', processedTotalKey, n)
    if failedTotalKey then
      redis.call('INCRBY', failedTotalKey, n)
    end
  end
end

-- Counts one failed attempt: processed and failed, daily and in total.
local function countFailedAttempt(processedDayKey, failedDayKey, processedTotalKey, failedTotalKey, expireAt, int64Max)
  addToDailyCounter(processedDayKey, 1, expireAt)
  addToDailyCounter(failedDayKey, 1, expireAt)
  addToTotals(1, int64Max, processedTotalKey, failedTotalKey)
end

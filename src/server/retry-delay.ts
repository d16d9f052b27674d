/**
 * asynq's default retry delay (Sidekiq's formula) in milliseconds:
 * `retried^4 + 15 + R * (retried + 1)` seconds, with R uniformly random in 0..29.
 */
export function defaultRetryDelay(retried: number): number {
  const r = Math.floor(Math.random() * 30);
  return (retried ** 4 + 15 + r * (retried + 1)) * 1000;
}

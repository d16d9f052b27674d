/**
 * Returns a function giving the order in which to try the queues for one dequeue, as asynq does:
 * strict mode always tries higher priorities first; weighted mode shuffles a list in which each
 * queue appears `priority / gcd` times and keeps first occurrences, so a queue comes first with a
 * probability proportional to its priority.
 */
export function queueOrder(
  queues: Readonly<Record<string, number>>,
  strict: boolean,
): () => readonly string[] {
  const names = Object.keys(queues).sort((a, b) => (queues[b] ?? 0) - (queues[a] ?? 0) || a.localeCompare(b));
  if (strict || names.length === 1) return () => names;
  const divisor = names.reduce((g, n) => gcd(g, queues[n] ?? 1), 0);
  const slots: string[] = [];
  for (const name of names) for (let i = 0; i < (queues[name] ?? 1) / divisor; i++) slots.push(name);
  return () => {
    for (let i = slots.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [slots[i], slots[j]] = [slots[j] as string, slots[i] as string];
    }
    return [...new Set(slots)];
  };
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/**
 * What tracing costs a worker and a producer when no OpenTelemetry SDK is registered: the check
 * made once per enqueue and once per attempt (`startProducerSpan` / `startConsumerSpan` returning
 * undefined), against a bare function call; then, for scale, the same calls with an SDK (a
 * BasicTracerProvider exporting nowhere) registered.
 *
 *   npx tsx bench/micro/tracing-noop.ts
 */
import { performance } from 'node:perf_hooks';
import { trace } from '@opentelemetry/api';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { newTaskMessage } from '../../src/base/message.js';
import { endConsumerSpan, startConsumerSpan } from '../../src/tracing/consumer.js';
import { startProducerSpan } from '../../src/tracing/producer.js';

const N = 2_000_000;
const msg = newTaskMessage({ type: 'email:send', id: 'id', queue: 'default', payload: new Uint8Array(8) });

function measure(label: string, fn: () => unknown): void {
  for (let i = 0; i < N / 10; i++) fn(); // warm-up
  const runs: number[] = [];
  for (let r = 0; r < 5; r++) {
    const start = performance.now();
    for (let i = 0; i < N; i++) fn();
    runs.push(((performance.now() - start) * 1e6) / N);
  }
  runs.sort((a, b) => a - b);
  console.log(`${label.padEnd(48)} ${(runs[2] as number).toFixed(1)} ns/op (median of 5 × ${N})`);
}

let sink: unknown;
const baseline = (): void => {
  sink = msg.id;
};
measure('baseline (a function call)', baseline);
measure('no SDK: startProducerSpan', () => (sink = startProducerSpan('default', 'email:send', 1)));
measure('no SDK: startConsumerSpan', () => (sink = startConsumerSpan(msg, 0)));

trace.setGlobalTracerProvider(new BasicTracerProvider());
const M = N / 20;
const start = performance.now();
for (let i = 0; i < M; i++) {
  const consumer = startConsumerSpan(msg, Date.now());
  if (consumer) endConsumerSpan(consumer, 'succeeded', undefined);
}
console.log(
  `${'SDK registered: consumer span start + end'.padEnd(48)} ${(((performance.now() - start) * 1e6) / M).toFixed(0)} ns/op`,
);
void sink;

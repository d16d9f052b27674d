/**
 * Measures the cost of the TaskMessage codec, which runs once per processed task.
 *
 * Run with `npx tsx scripts/measure-wire.mts`. It encodes and decodes a typical message (100-byte
 * JSON payload, UUID id, default queue, retry 25, timeout 1800, i.e. what the Go client writes by
 * default) 200,000 times per round and prints the time per call. The decoder is fed a Node
 * `Buffer`, as ioredis returns it. The best of five rounds is reported, since on a shared machine
 * the slower rounds measure the neighbours, not the code.
 */
import { randomUUID } from 'node:crypto';
import { newTaskMessage } from '../src/base/message.js';
import { decodeTaskMessage, encodeTaskMessage } from '../src/base/wire.js';

const ITERATIONS = 200_000;
const ROUNDS = 5;

const payload = Buffer.from(
  JSON.stringify({
    to: 'someone@example.com',
    template: 'welcome',
    vars: { name: 'Ada Lovelace', n: 42 },
  }).padEnd(100, ' '),
);
const msg = newTaskMessage({
  type: 'email:send',
  payload,
  id: randomUUID(),
  queue: 'default',
  retry: 25,
  timeout: 1800,
});
const encoded = encodeTaskMessage(msg);
// ioredis hands out Buffers that own their memory; copy so the input looks like one.
const input = Buffer.from(encoded);

// Accumulate something from every result so the JIT cannot drop the calls.
let sink = 0;

function time(fn: () => void): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < ITERATIONS; i++) fn();
  return Number(process.hrtime.bigint() - start) / ITERATIONS;
}

let bestEncode = Infinity;
let bestDecode = Infinity;
for (let round = 1; round <= ROUNDS; round++) {
  const enc = time(() => {
    sink += encodeTaskMessage(msg).byteLength;
  });
  const dec = time(() => {
    sink += decodeTaskMessage(input).retry;
  });
  bestEncode = Math.min(bestEncode, enc);
  bestDecode = Math.min(bestDecode, dec);
  console.log(`round ${round}: encode ${enc.toFixed(0)} ns, decode ${dec.toFixed(0)} ns`);
}

console.log(
  `TaskMessage of ${encoded.byteLength} bytes, ${ITERATIONS} iterations x ${ROUNDS} rounds (node ${process.version})`,
);
console.log(`best: encode ${bestEncode.toFixed(0)} ns/op, decode ${bestDecode.toFixed(0)} ns/op`);
if (sink === 0) console.log('unreachable');

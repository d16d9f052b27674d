/**
 * PackedCommand writes the same bytes as ioredis's own serializer, and Redis reads them back
 * argument for argument (multi-byte UTF-8, empty strings, binary Buffers, numbers).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Command } from 'ioredis';
import { PackedCommand } from '../../src/broker/script-command.js';
import { useTestEnv } from '../helpers/setup.js';

const env = useTestEnv();

const binary = Buffer.from([0, 1, 2, 0xff, 0x0d, 0x0a, 0x24]);
const cases: { name: string; args: (string | Buffer | number)[] }[] = [
  { name: 'no arguments', args: [] },
  { name: 'ASCII strings', args: ['asynq:{default}:pending', 'x'] },
  { name: 'multi-byte UTF-8', args: ['ключ', 'é', '🚀 task', 'a\r\nb'] },
  { name: 'empty string and empty Buffer', args: ['', Buffer.alloc(0), ''] },
  { name: 'binary Buffers', args: [binary, Buffer.alloc(300, 7)] },
  { name: 'numbers', args: [0, 7, 1234567890123, -5, 1.5] },
  { name: 'a three-digit argument count', args: Array.from({ length: 120 }, (_, i) => `arg-${i}`) },
  { name: 'a long argument', args: ['y'.repeat(70_000)] },
];

function ioredisBytes(name: string, args: (string | Buffer | number)[]): Buffer {
  const writable = new Command(name, [...args]).toWritable({});
  return Buffer.isBuffer(writable) ? writable : Buffer.from(writable, 'utf8');
}

describe('PackedCommand', () => {
  for (const { name, args } of cases) {
    test(`serializes like ioredis: ${name}`, () => {
      const packed = new PackedCommand('evalsha', [...args]).toWritable();
      assert.deepEqual(packed, ioredisBytes('evalsha', args));
    });
  }

  test('Redis receives every argument intact', async () => {
    const args = ['ключ', '', binary, 42, 'a\r\nb', Buffer.alloc(0)];
    const command = new PackedCommand('eval', ['return ARGV', 0, ...args], { replyEncoding: null });
    void env.raw.sendCommand(command);
    const reply = (await command.promise) as Buffer[];
    assert.deepEqual(
      reply,
      args.map((a) => (Buffer.isBuffer(a) ? a : Buffer.from(String(a), 'utf8'))),
    );
  });
});

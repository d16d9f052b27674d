/**
 * parseHandoffMessage: decodes "<lease expiry unix s>:<#queue>:<queue><#id>:<id><encoded
 * TaskMessage>" (lengths in bytes) as enqueue.lua publishes it, and rejects anything else. Pure
 * unit test: the messages are built here, byte for byte.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeTaskMessage, encodeTaskMessage } from '../../src/base/wire.js';
import { parseHandoffMessage } from '../../src/server/subscriber.js';
import { normalizeMsg, taskMsg } from '../helpers/seed.js';

/** Builds a message exactly as enqueue.lua does, with byte lengths. */
function build(expirySec: number | string, queue: string, id: string, msg: Uint8Array): Buffer {
  const q = Buffer.from(queue, 'utf8');
  const i = Buffer.from(id, 'utf8');
  return Buffer.concat([
    Buffer.from(`${expirySec}:${q.length}:`, 'latin1'),
    q,
    Buffer.from(`${i.length}:`, 'latin1'),
    i,
    Buffer.from(msg),
  ]);
}

describe('parseHandoffMessage', () => {
  interface RoundTrip {
    name: string;
    expirySec: number;
    queue: string;
    id: string;
    msg: Buffer;
  }

  const binary = Buffer.from([0x00, 0x3a, 0x31, 0x3a, 0xff, 0xfe, 0x0a, 0x3a, 0x00]);
  const cases: RoundTrip[] = [
    {
      name: 'a plain queue and uuid id',
      expirySec: 1_900_000_030,
      queue: 'default',
      id: '0b6c7a7e-5d0f-4c3b-9a57-4f1d7f1a2b3c',
      msg: Buffer.from('payload'),
    },
    {
      name: 'queue and id holding colons and digits that look like length fields',
      expirySec: 1_700_000_000,
      queue: '12:critical:3:',
      id: '4:5:6',
      msg: Buffer.from('7:8'),
    },
    {
      name: 'non-ASCII queue and id (byte lengths differ from string lengths)',
      expirySec: 1_700_000_001,
      queue: 'größe',
      id: '日本語:タスク:🚀',
      msg: Buffer.from('ü', 'utf8'),
    },
    {
      name: 'binary message bytes, NUL and colons included',
      expirySec: 42,
      queue: 'q',
      id: 'x',
      msg: binary,
    },
    {
      name: 'an empty message body',
      expirySec: 1,
      queue: 'default',
      id: 'a',
      msg: Buffer.alloc(0),
    },
    {
      name: 'expiry 0',
      expirySec: 0,
      queue: 'default',
      id: 'a',
      msg: Buffer.from('m'),
    },
  ];

  for (const tc of cases) {
    test(`round-trips ${tc.name}`, () => {
      const parsed = parseHandoffMessage(build(tc.expirySec, tc.queue, tc.id, tc.msg));
      assert.ok(parsed);
      assert.equal(parsed.queue, tc.queue);
      assert.equal(parsed.task.id, tc.id);
      assert.equal(parsed.leaseExpiryMs, tc.expirySec * 1000);
      assert.deepEqual(Buffer.from(parsed.task.rawMsg), tc.msg);
      assert.deepEqual(Object.keys(parsed).sort(), ['leaseExpiryMs', 'queue', 'task']);
    });
  }

  test('round-trips an encoded TaskMessage that decodes to the original', () => {
    const msg = taskMsg({
      id: 'id:ü:1',
      queue: 'crit:ical',
      type: 'image:resize',
      payload: Buffer.from([0x3a, 0x00, 0xff, 0x31, 0x3a]),
      uniqueKey: 'asynq:{crit:ical}:unique:x',
      retention: 3600,
    });
    const raw = encodeTaskMessage(msg);
    const parsed = parseHandoffMessage(build(1_900_000_000, msg.queue, msg.id, raw));
    assert.ok(parsed);
    assert.equal(parsed.queue, 'crit:ical');
    assert.equal(parsed.task.id, 'id:ü:1');
    assert.equal(parsed.leaseExpiryMs, 1_900_000_000_000);
    assert.deepEqual(Buffer.from(parsed.task.rawMsg), Buffer.from(raw));
    assert.deepEqual(normalizeMsg(decodeTaskMessage(parsed.task.rawMsg)), msg);
  });

  test('the lengths decide the split, not the colons inside the fields', () => {
    // Queue "7:a", id "1:b": a parser splitting on colons would read queue length 7 twice.
    const parsed = parseHandoffMessage(Buffer.from('5:3:7:a3:1:bXYZ', 'latin1'));
    assert.ok(parsed);
    assert.equal(parsed.queue, '7:a');
    assert.equal(parsed.task.id, '1:b');
    assert.equal(parsed.leaseExpiryMs, 5000);
    assert.deepEqual(Buffer.from(parsed.task.rawMsg), Buffer.from('XYZ'));
  });

  const malformed: { name: string; message: Buffer }[] = [
    { name: 'an empty buffer', message: Buffer.alloc(0) },
    { name: 'no colon at all', message: Buffer.from('1700000000') },
    { name: 'only the expiry field', message: Buffer.from('1700000000:') },
    { name: 'no colon after the queue length', message: Buffer.from('1700000000:7default') },
    { name: 'no id length after the queue', message: Buffer.from('1700000000:7:default') },
    { name: 'no colon after the id length', message: Buffer.from('1700000000:7:default1a') },
    { name: 'an empty expiry field', message: Buffer.from(':7:default1:aM') },
    { name: 'an empty queue length field', message: Buffer.from('1700000000::default1:aM') },
    { name: 'an empty id length field', message: Buffer.from('1700000000:7:default:aM') },
    { name: 'a non-digit expiry', message: Buffer.from('17x0:7:default1:aM') },
    { name: 'a negative expiry', message: Buffer.from('-1:7:default1:aM') },
    { name: 'a signed queue length', message: Buffer.from('1700000000:+7:default1:aM') },
    { name: 'a fractional queue length', message: Buffer.from('1700000000:7.0:default1:aM') },
    { name: 'a hexadecimal queue length', message: Buffer.from('1700000000:0x7:default1:aM') },
    { name: 'an exponent id length', message: Buffer.from('1700000000:7:default1e0:aM') },
    { name: 'spaces around a length', message: Buffer.from('1700000000: 7:default1:aM') },
    { name: 'non-ASCII digits as a length', message: Buffer.from('1700000000:٧:default1:aM', 'utf8') },
    { name: 'a queue length running past the end', message: Buffer.from('1700000000:99:default1:aM') },
    { name: 'a queue length ending inside the id length', message: Buffer.from('1700000000:8:default1:aM') },
    {
      name: 'a queue length too short (lands inside the queue)',
      message: Buffer.from('1700000000:3:default1:aM'),
    },
    { name: 'an id length running past the end', message: Buffer.from('1700000000:7:default5:abc') },
    { name: 'an id length one past the end', message: Buffer.from('1700000000:7:default2:a') },
    { name: 'a huge id length', message: Buffer.from('1700000000:7:default99999999999999999999:a') },
  ];

  for (const tc of malformed) {
    test(`returns undefined for ${tc.name}`, () => {
      assert.equal(parseHandoffMessage(tc.message), undefined);
    });
  }

  test('an id ending exactly at the end of the buffer is accepted (empty message body)', () => {
    const parsed = parseHandoffMessage(Buffer.from('1700000000:7:default2:ab'));
    assert.ok(parsed);
    assert.equal(parsed.task.id, 'ab');
    assert.equal(parsed.task.rawMsg.length, 0);
  });
});

/**
 * Wire-format tests for src/base/wire.ts: byte-exact agreement with Go asynq v0.26.0.
 *
 * Sources of truth: the worked examples of the protocol contract (docs/protocol.md §3.1, §3.6) and
 * the golden Redis dumps written by real Go asynq (test/compat/golden/asynq-v0.26.0, see the README
 * there). No Redis needed.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { DescMessage } from '@bufbuild/protobuf';
import { BinaryReader } from '@bufbuild/protobuf/wire';
import { ServerInfoSchema, TaskMessageSchema, WorkerInfoSchema } from '../../src/gen/asynq_pb.js';
import { GO_ZERO_TIME, newTaskMessage } from '../../src/base/message.js';
import type { SchedulerEntry, ServerInfo, TaskMessage, WorkerInfo } from '../../src/base/message.js';
import {
  decodeSchedulerEnqueueEvent,
  decodeSchedulerEntry,
  decodeServerInfo,
  decodeTaskMessage,
  decodeWorkerInfo,
  encodeSchedulerEnqueueEvent,
  encodeSchedulerEntry,
  encodeServerInfo,
  encodeTaskMessage,
  encodeWorkerInfo,
} from '../../src/base/wire.js';

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function unhex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

/** Top-level fields of a message as raw hex chunks (tag included), in wire order. */
function topLevelFields(bytes: Uint8Array): { fieldNo: number; hex: string }[] {
  const r = new BinaryReader(bytes);
  const out: { fieldNo: number; hex: string }[] = [];
  while (r.pos < r.len) {
    const start = r.pos;
    const [fieldNo, wireType] = r.tag();
    r.skip(wireType, fieldNo);
    out.push({ fieldNo, hex: hex(bytes.subarray(start, r.pos)) });
  }
  return out;
}

/**
 * Asserts that two encodings are identical, except that when the message holds more than one entry
 * of the map field `mapFieldNo` the entries may come in any order (Go writes maps in random order).
 * Everything else, including each entry's bytes and the position of the map run, must match.
 */
function assertSameBytes(actual: Uint8Array, expected: Uint8Array, mapFieldNo: number): void {
  const expectedFields = topLevelFields(expected);
  const entries = expectedFields.filter((f) => f.fieldNo === mapFieldNo).length;
  if (entries <= 1) {
    assert.equal(hex(actual), hex(expected));
    return;
  }
  const actualFields = topLevelFields(actual);
  assert.deepEqual(
    actualFields.map((f) => f.fieldNo),
    expectedFields.map((f) => f.fieldNo),
    'field sequence differs',
  );
  const sorted = (fields: { hex: string }[]) => fields.map((f) => f.hex).sort();
  assert.deepEqual(sorted(actualFields), sorted(expectedFields), 'field bytes differ');
}

/** A decoded record with byte fields as hex, so that Buffer-vs-Uint8Array does not matter. */
function comparable(record: object): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(record).map(([k, v]) => [k, v instanceof Uint8Array ? hex(v) : v]),
  );
}

// ---------------------------------------------------------------------------------------------
// Golden files (written by Go asynq v0.26.0)
// ---------------------------------------------------------------------------------------------

interface GoldenProtoField {
  field: number;
  name: string;
  proto_type: string;
  wire_type: number;
  value?: string | number;
  bytes?: { hex: string };
  nested?: GoldenProtoField[];
}

interface GoldenBlob {
  hex: string;
  proto_message?: string;
  proto_fields?: GoldenProtoField[];
}

interface GoldenKey {
  key: string;
  type: string;
  value: unknown;
}

interface GoldenFile {
  steps: {
    redis_after?: { keys: GoldenKey[] };
    redis_during?: { dump: { keys: GoldenKey[] } };
  }[];
}

type GoldenKind = 'TaskMessage' | 'ServerInfo' | 'WorkerInfo';

interface GoldenCase {
  label: string;
  kind: GoldenKind;
  blob: GoldenBlob & { proto_fields: GoldenProtoField[] };
}

// The Go asynq dumps committed with the compat tests.
const GOLDEN_DIR = fileURLToPath(new URL('../compat/golden/asynq-v0.26.0/', import.meta.url));

function loadGoldenCases(): GoldenCase[] {
  if (!existsSync(GOLDEN_DIR)) {
    throw new Error(
      `golden fixtures not found at ${GOLDEN_DIR}; these tests read the Go asynq dumps ` +
        `committed in test/compat/golden/asynq-v0.26.0/*.json`,
    );
  }
  const cases: GoldenCase[] = [];
  const files = readdirSync(GOLDEN_DIR)
    .filter((name) => name.endsWith('.json'))
    .sort();
  for (const file of files) {
    const golden = JSON.parse(readFileSync(join(GOLDEN_DIR, file), 'utf8')) as GoldenFile;
    golden.steps.forEach((step, i) => {
      const dumps: [string, GoldenKey[] | undefined][] = [
        ['redis_after', step.redis_after?.keys],
        ['redis_during', step.redis_during?.dump.keys],
      ];
      for (const [dumpName, keys] of dumps) {
        for (const key of keys ?? []) {
          const where = `${file} step ${i} ${dumpName} ${key.key}`;
          const add = (kind: GoldenKind, label: string, blob: GoldenBlob) => {
            if (blob.proto_fields === undefined) throw new Error(`${label}: no proto_fields`);
            assert.equal(blob.proto_message, kind, `${label}: unexpected proto_message`);
            cases.push({ label, kind, blob: { ...blob, proto_fields: blob.proto_fields } });
          };
          if (key.key.startsWith('asynq:servers:{') && key.type === 'string') {
            add('ServerInfo', where, key.value as GoldenBlob);
          } else if (key.key.startsWith('asynq:workers:{') && key.type === 'hash') {
            for (const [field, blob] of Object.entries(key.value as Record<string, GoldenBlob>)) {
              add('WorkerInfo', `${where} [${field}]`, blob);
            }
          } else if (key.type === 'hash') {
            const msg = (key.value as Record<string, GoldenBlob | undefined>).msg;
            if (msg?.hex !== undefined) add('TaskMessage', `${where} msg`, msg);
          }
        }
      }
    });
  }
  return cases;
}

let goldenCases: GoldenCase[] = [];
let goldenError: Error | undefined;
try {
  goldenCases = loadGoldenCases();
} catch (err) {
  goldenError = err as Error;
}
const goldenOf = (kind: GoldenKind) => goldenCases.filter((c) => c.kind === kind);

function firstGolden(kind: GoldenKind): GoldenCase {
  const first = goldenOf(kind)[0];
  if (first === undefined) assert.fail(goldenError?.message ?? `no golden ${kind} blobs found`);
  return first;
}

function camel(name: string): string {
  return name.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/** The value a decoded field should have, from the golden decoder's field list. */
function goldenValue(field: GoldenProtoField): unknown {
  if (field.proto_type === 'bytes') return field.bytes?.hex ?? '';
  if (field.proto_type === 'message:Timestamp') {
    const part = (name: string) => Number(field.nested?.find((n) => n.name === name)?.value ?? 0);
    // Dates hold milliseconds: Go's nanoseconds are truncated.
    return new Date(part('seconds') * 1000 + Math.floor(part('nanos') / 1e6));
  }
  return field.value;
}

/** Builds the expected decoded record: `defaults` overlaid with the golden fields. */
function expectedRecord(
  fields: GoldenProtoField[],
  defaults: Record<string, unknown>,
): Record<string, unknown> {
  const expected: Record<string, unknown> = { ...defaults };
  for (const f of fields) {
    const prop = camel(f.name);
    assert.ok(prop in defaults, `golden field ${f.name} is unknown to the test`);
    if (f.proto_type.startsWith('map<')) {
      const entry = (name: string) => f.nested?.find((n) => n.name === name)?.value;
      const map = { ...(expected[prop] as Record<string, unknown>) };
      map[String(entry('key') ?? '')] = entry('value') ?? (f.proto_type.endsWith('string>') ? '' : 0);
      expected[prop] = map;
    } else {
      expected[prop] = goldenValue(f);
    }
  }
  return expected;
}

const TASK_DEFAULTS = comparable(newTaskMessage({ type: '', id: '', queue: '' }));
const SERVER_DEFAULTS: Record<string, unknown> = {
  host: '',
  pid: 0,
  serverId: '',
  concurrency: 0,
  queues: {},
  strictPriority: false,
  status: '',
  startTime: GO_ZERO_TIME,
  activeWorkerCount: 0,
};
const WORKER_DEFAULTS: Record<string, unknown> = {
  host: '',
  pid: 0,
  serverId: '',
  taskId: '',
  taskType: '',
  taskPayload: '',
  queue: '',
  startTime: GO_ZERO_TIME,
  deadline: GO_ZERO_TIME,
};

/**
 * What our encoder must produce for a golden record: Go's bytes with every Timestamp's nanos
 * truncated to milliseconds (a `Date` cannot hold more). Built with the generated schema, which
 * the "generated schema" test below shows reproduces Go's bytes.
 */
function goldenWithMsTimestamps(desc: typeof ServerInfoSchema | typeof WorkerInfoSchema, bytes: Uint8Array) {
  const schema = desc as DescMessage;
  const msg = fromBinary(schema, bytes) as unknown as Record<string, unknown>;
  for (const value of Object.values(msg)) {
    const ts = value as { $typeName?: string; nanos: number } | undefined;
    if (ts?.$typeName === 'google.protobuf.Timestamp') ts.nanos -= ts.nanos % 1_000_000;
  }
  return toBinary(schema, msg as never);
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

describe('golden fixtures', () => {
  it('are present and contain every record kind', () => {
    if (goldenError !== undefined) assert.fail(goldenError.message);
    firstGolden('TaskMessage');
    firstGolden('ServerInfo');
    firstGolden('WorkerInfo');
  });

  it('round-trip through the generated schema byte for byte (validates proto/asynq.proto)', () => {
    const schemas = {
      TaskMessage: TaskMessageSchema,
      ServerInfo: ServerInfoSchema,
      WorkerInfo: WorkerInfoSchema,
    };
    const mapField = { TaskMessage: 15, ServerInfo: 5, WorkerInfo: 0 };
    for (const c of goldenCases) {
      const schema = schemas[c.kind] as DescMessage;
      const bytes = unhex(c.blob.hex);
      const msg = fromBinary(schema, bytes, { readUnknownFields: false });
      assertSameBytes(toBinary(schema, msg), bytes, mapField[c.kind]);
    }
  });
});

describe('TaskMessage', () => {
  // Spec §3.1 worked example.
  const EXAMPLE_HEX = '0a0a656d61696c3a73656e64 12077b2261223a317d 1a03616263 220764656661756c74 2819 40880e';
  const HEADER_ENTRY_HEX = '7a06 0a016b 120176';
  const example = () =>
    newTaskMessage({
      type: 'email:send',
      payload: new TextEncoder().encode('{"a":1}'),
      id: 'abc',
      queue: 'default',
      retry: 25,
      timeout: 1800,
    });

  it('encodes the spec worked example byte for byte', () => {
    assert.equal(hex(encodeTaskMessage(example())), hex(unhex(EXAMPLE_HEX)));
  });

  it('encodes the spec header entry example byte for byte', () => {
    const msg = { ...example(), headers: { k: 'v' } };
    assert.equal(hex(encodeTaskMessage(msg)), hex(unhex(EXAMPLE_HEX + HEADER_ENTRY_HEX)));
  });

  it('decodes the spec worked example', () => {
    const decoded = decodeTaskMessage(unhex(EXAMPLE_HEX + HEADER_ENTRY_HEX));
    assert.deepEqual(comparable(decoded), comparable({ ...example(), headers: { k: 'v' } }));
    assert.ok(decoded.payload instanceof Uint8Array, 'payload is not a Uint8Array');
  });

  it('omits zero fields like Go (retry 0, empty payload)', () => {
    const msg = newTaskMessage({ type: 't', id: 'i', queue: 'q' });
    assert.equal(hex(encodeTaskMessage(msg)), '0a01741a0169220171');
  });

  for (const c of goldenOf('TaskMessage')) {
    it(`matches golden ${c.label}`, () => {
      const bytes = unhex(c.blob.hex);
      const decoded = decodeTaskMessage(bytes);
      assert.deepEqual(comparable(decoded), expectedRecord(c.blob.proto_fields, TASK_DEFAULTS));
      assertSameBytes(encodeTaskMessage(decoded), bytes, 15);
    });
  }

  it('round-trips every field, including large and negative int64 values', () => {
    const msg: TaskMessage = {
      type: 'report:build',
      payload: new Uint8Array([0, 1, 2, 255]),
      id: '6f1f8a5e-0d33-4a6b-9b0e-3c0ad5f3a1d2',
      queue: 'critical',
      retry: 3,
      retried: 2,
      errorMsg: 'boom: ünïcödé ✓',
      lastFailedAt: 1_795_326_339,
      timeout: 2 ** 40,
      deadline: 2 ** 52,
      uniqueKey: 'asynq:{critical}:unique:report:build:abc',
      groupKey: 'g1',
      retention: 86_400,
      completedAt: -5,
      headers: { a: '1', '': 'empty key', b: '' },
    };
    // A header named "__proto__" must stay an ordinary entry, not replace the object's prototype.
    Object.defineProperty(msg.headers, '__proto__', {
      value: 'x',
      enumerable: true,
      writable: true,
      configurable: true,
    });
    const decoded = decodeTaskMessage(encodeTaskMessage(msg));
    assert.deepEqual(comparable(decoded), comparable(msg));
    assert.equal(Object.getPrototypeOf(decoded.headers), Object.prototype);
  });

  it('writes the same bytes as the generated schema, on the direct path and the general one', () => {
    const base: TaskMessage = newTaskMessage({ type: 't', id: 'i', queue: 'q' });
    const variants: Partial<TaskMessage>[] = [
      {},
      { payload: new Uint8Array(200).fill(7), retry: 127, retried: 128 },
      { retry: 0x7fffffff, timeout: 2 ** 32, deadline: Number.MAX_SAFE_INTEGER },
      { type: 'тип:🚀', id: 'ид-\u{1F680}', queue: 'очередь', errorMsg: 'é'.repeat(200) },
      { uniqueKey: 'u', groupKey: 'g', lastFailedAt: 16_383, retention: 16_384, completedAt: 2_097_151 },
      { headers: { a: '1', ключ: 'значение', '': '', long: 'v'.repeat(300) } },
      { type: '', id: '', queue: '', payload: new Uint8Array(0) },
      // Negative numbers take the general path.
      { retry: -1, completedAt: -5, timeout: 10 },
      { errorMsg: 'lone surrogate \ud800 here' },
    ];
    for (const [i, variant] of variants.entries()) {
      const msg = { ...base, ...variant };
      const expected = toBinary(
        TaskMessageSchema,
        create(TaskMessageSchema, {
          ...msg,
          timeout: BigInt(msg.timeout),
          deadline: BigInt(msg.deadline),
          lastFailedAt: BigInt(msg.lastFailedAt),
          retention: BigInt(msg.retention),
          completedAt: BigInt(msg.completedAt),
        }),
      );
      assert.deepEqual(new Uint8Array(encodeTaskMessage(msg)), expected, `variant ${i}`);
    }
  });

  it('returns a Buffer (ioredis only sends Buffers as binary)', () => {
    assert.ok(Buffer.isBuffer(encodeTaskMessage(example())), 'not a Buffer');
  });

  it('decodes the payload as a view of the input, without copying', () => {
    const input = unhex(EXAMPLE_HEX);
    const decoded = decodeTaskMessage(input);
    assert.equal(decoded.payload.buffer, input.buffer);
    assert.equal(Buffer.from(decoded.payload).toString(), '{"a":1}');
  });

  it('rejects values the wire types cannot hold, and recovers afterwards', () => {
    const bad: Partial<TaskMessage>[] = [
      { retry: 1.5 },
      { retry: 2 ** 31 },
      { retried: -(2 ** 31) - 1 },
      { timeout: 1.5 },
      { deadline: Number.NaN },
      { retention: 2 ** 64 },
    ];
    for (const fields of bad) {
      assert.throws(() => encodeTaskMessage({ ...example(), ...fields }), Error, JSON.stringify(fields));
      // The shared writer must not carry half a message into the next encode.
      assert.equal(hex(encodeTaskMessage(example())), hex(unhex(EXAMPLE_HEX)));
    }
  });
});

describe('ServerInfo', () => {
  for (const c of goldenOf('ServerInfo')) {
    it(`matches golden ${c.label}`, () => {
      const bytes = unhex(c.blob.hex);
      const decoded = decodeServerInfo(bytes);
      assert.deepEqual(comparable(decoded), expectedRecord(c.blob.proto_fields, SERVER_DEFAULTS));
      assertSameBytes(encodeServerInfo(decoded), goldenWithMsTimestamps(ServerInfoSchema, bytes), 5);
    });
  }

  it('round-trips, and always writes start_time', () => {
    const info: ServerInfo = {
      host: 'h',
      pid: 42,
      serverId: 's',
      concurrency: 10,
      queues: { default: 1 },
      strictPriority: true,
      status: 'active',
      startTime: new Date(0),
      activeWorkerCount: 0,
    };
    const bytes = encodeServerInfo(info);
    // start_time of the epoch is an empty submessage, but still present: field 8, length 0.
    assert.equal(
      hex(bytes),
      '0a0168102a1a0173200a2a0b0a0764656661756c7410013001' + '3a06616374697665' + '4200',
    );
    assert.ok(Buffer.isBuffer(bytes), 'not a Buffer');
    assert.deepEqual(decodeServerInfo(bytes), info);
  });

  it('decodes an empty message to defaults, with Go zero time for the missing timestamp', () => {
    assert.deepEqual(decodeServerInfo(new Uint8Array(0)), SERVER_DEFAULTS);
  });
});

describe('WorkerInfo', () => {
  for (const c of goldenOf('WorkerInfo')) {
    it(`matches golden ${c.label}`, () => {
      const bytes = unhex(c.blob.hex);
      const decoded = decodeWorkerInfo(bytes);
      assert.deepEqual(comparable(decoded), expectedRecord(c.blob.proto_fields, WORKER_DEFAULTS));
      assert.equal(hex(encodeWorkerInfo(decoded)), hex(goldenWithMsTimestamps(WorkerInfoSchema, bytes)));
    });
  }

  it('round-trips and returns a Buffer', () => {
    const info: WorkerInfo = {
      host: 'h',
      pid: 1,
      serverId: 's',
      taskId: 't',
      taskType: 'x',
      taskPayload: new Uint8Array([1, 2]),
      queue: 'default',
      startTime: new Date(1_795_326_339_294),
      deadline: new Date(1_795_329_939_294),
    };
    const bytes = encodeWorkerInfo(info);
    assert.ok(Buffer.isBuffer(bytes), 'not a Buffer');
    assert.deepEqual(comparable(decodeWorkerInfo(bytes)), comparable(info));
  });
});

describe('SchedulerEntry and SchedulerEnqueueEvent', () => {
  const entry: SchedulerEntry = {
    id: 'e1',
    spec: '@every 1m',
    taskType: 't',
    taskPayload: new Uint8Array(0),
    enqueueOptions: ['MaxRetry(3)'],
    nextEnqueueTime: new Date(1_795_326_339_000),
    prevEnqueueTime: GO_ZERO_TIME,
  };

  it('encodes Go zero time as seconds -62135596800 (spec §3.6)', () => {
    const expected =
      '0a026531' + // id "e1"
      '120940657665727920316d' + // spec "@every 1m"
      '1a0174' + // task_type "t"; the empty payload (4) is omitted
      '2a0b4d61785265747279283329' + // enqueue_options ["MaxRetry(3)"]
      '3206 0883838ad806' + // next_enqueue_time: seconds 1795326339, nanos 0 omitted
      '3a0b 088092b8c398feffffff01'; // prev_enqueue_time: Go zero time
    const bytes = encodeSchedulerEntry(entry);
    assert.equal(hex(bytes), hex(unhex(expected)));
    assert.ok(hex(bytes).endsWith('3a0b088092b8c398feffffff01'), 'zero-time field 7 missing');
    assert.ok(Buffer.isBuffer(bytes), 'not a Buffer');
  });

  it('decodes back, including the zero time', () => {
    const decoded = decodeSchedulerEntry(encodeSchedulerEntry(entry));
    assert.deepEqual(comparable(decoded), comparable(entry));
    assert.equal(decoded.prevEnqueueTime.getTime(), -62_135_596_800_000);
  });

  it('decodes missing timestamps as Go zero time (fresh Date objects)', () => {
    const decoded = decodeSchedulerEntry(unhex('0a026531'));
    assert.equal(decoded.nextEnqueueTime.getTime(), GO_ZERO_TIME.getTime());
    assert.equal(decoded.prevEnqueueTime.getTime(), GO_ZERO_TIME.getTime());
    assert.notEqual(decoded.prevEnqueueTime, GO_ZERO_TIME);
  });

  it('encodes an enqueue event with millisecond nanos', () => {
    const event = { taskId: 'abc', enqueueTime: new Date(1_795_326_339_293) };
    const bytes = encodeSchedulerEnqueueEvent(event);
    assert.equal(hex(bytes), '0a03616263120c0883838ad80610c0a6db8b01');
    assert.ok(Buffer.isBuffer(bytes), 'not a Buffer');
    assert.deepEqual(decodeSchedulerEnqueueEvent(bytes), event);
  });

  it('always writes the timestamp, even the all-zero epoch', () => {
    assert.equal(hex(encodeSchedulerEnqueueEvent({ taskId: '', enqueueTime: new Date(0) })), '1200');
  });

  it('floors dates before 1970 and keeps nanos non-negative', () => {
    const bytes = encodeSchedulerEnqueueEvent({ taskId: '', enqueueTime: new Date(-1) });
    // seconds -1 (ten-byte varint), nanos 999,000,000
    assert.equal(hex(bytes), '1211' + '08ffffffffffffffffff01' + '10c08faedc03');
    assert.equal(decodeSchedulerEnqueueEvent(bytes).enqueueTime.getTime(), -1);
  });

  it('rejects invalid dates when encoding', () => {
    assert.throws(
      () => encodeSchedulerEnqueueEvent({ taskId: 'a', enqueueTime: new Date(Number.NaN) }),
      RangeError,
    );
    assert.throws(() => encodeSchedulerEntry({ ...entry, nextEnqueueTime: new Date('nope') }), RangeError);
  });
});

describe('unknown fields', () => {
  const UNKNOWN =
    'a00107' + // field 20, varint 7
    'aa0103616263' + // field 21, length-delimited "abc"
    'b1010102030405060708' + // field 22, fixed64
    'bd0101020304' + // field 23, fixed32
    'c3010801c401'; // field 24, group containing field 1 = 1

  it('are skipped in TaskMessage, anywhere in the message and inside map entries', () => {
    const plain = decodeTaskMessage(unhex('0a0a656d61696c3a73656e64 1a03616263 2819 7a060a016b120176'));
    const noisy = decodeTaskMessage(
      unhex(
        UNKNOWN + '0a0a656d61696c3a73656e64 1a03616263' + UNKNOWN + '2819 7a080a016b1201761801' + UNKNOWN,
      ),
    );
    assert.deepEqual(comparable(noisy), comparable(plain));
  });

  it('are skipped in the other records', () => {
    for (const c of goldenOf('ServerInfo').slice(0, 1).concat(goldenOf('WorkerInfo').slice(0, 1))) {
      const decode = c.kind === 'ServerInfo' ? decodeServerInfo : decodeWorkerInfo;
      const bytes = unhex(c.blob.hex);
      assert.deepEqual(decode(unhex(UNKNOWN + c.blob.hex + UNKNOWN)), decode(bytes));
    }
    const event = unhex('0a03616263120c0883838ad80610c0a6db8b01');
    // Also inside the Timestamp submessage: field 3 varint appended, length 0x0c -> 0x0e.
    const noisyEvent = unhex(UNKNOWN + '0a03616263120e0883838ad80610c0a6db8b011801' + UNKNOWN);
    assert.deepEqual(decodeSchedulerEnqueueEvent(noisyEvent), decodeSchedulerEnqueueEvent(event));
  });
});

describe('malformed input', () => {
  const garbage: [string, string][] = [
    ['tag without value', '0a'],
    ['string longer than the input', '0a05616263'],
    ['bytes longer than the input', '12ff01'],
    ['truncated varint', '4088'],
    ['invalid wire type 6', '0e'],
    ['invalid wire type 7', '0f01'],
    ['field number 0', '0001'],
    ['end-group tag without a start', '0c'],
    ['unterminated group', 'c3010801'],
    ['overlong varint', 'ffffffffffffffffffffff01'],
    ['known string field as varint', '0801'],
    ['known string field as varint 0', '0800'],
    ['known varint field as length-delimited', '2a0161'],
    ['known varint field as empty length-delimited', '2a00'],
    ['invalid UTF-8 in a string', '0a02c328'],
    ['map entry overrunning its length', '7a040a016b120178'],
    ['text', hex(Buffer.from('hello world'))],
    ['JSON (asynq <= v0.17 stored JSON)', hex(Buffer.from('{"Type":"email:send","Payload":{}}'))],
  ];
  for (const [what, bytes] of garbage) {
    it(`TaskMessage: throws on ${what}`, () => {
      assert.throws(() => decodeTaskMessage(unhex(bytes)), Error);
    });
  }

  it('TaskMessage: every cut inside a field throws; cuts between fields decode', () => {
    const bytes = unhex(firstGolden('TaskMessage').blob.hex);
    const boundaries = new Set<number>([0]);
    let at = 0;
    for (const f of topLevelFields(bytes)) boundaries.add((at += f.hex.length / 2));
    for (let cut = 1; cut < bytes.length; cut++) {
      const prefix = bytes.subarray(0, cut);
      if (boundaries.has(cut)) decodeTaskMessage(prefix);
      else assert.throws(() => decodeTaskMessage(prefix), Error, `cut at ${cut}`);
    }
  });

  const otherGarbage: [string, (b: Uint8Array) => unknown, string][] = [
    ['ServerInfo tag without value', decodeServerInfo, '0a'],
    // fromBinary alone would accept the next three and return junk; wire.ts checks wire types.
    ['ServerInfo host as varint', decodeServerInfo, '0800'],
    ['ServerInfo pid as length-delimited', decodeServerInfo, '1200'],
    ['ServerInfo queues value as string', decodeServerInfo, '2a050a01611200'],
    ['ServerInfo timestamp overrunning its length', decodeServerInfo, '42020883838ad806'],
    ['ServerInfo timestamp nanos negative', decodeServerInfo, '420b10ffffffffffffffffff01'],
    ['ServerInfo invalid UTF-8', decodeServerInfo, '0a02c328'],
    ['WorkerInfo truncated payload', decodeWorkerInfo, '3205aabb'],
    ['WorkerInfo deadline as varint', decodeWorkerInfo, '4801'],
    ['SchedulerEntry option as varint', decodeSchedulerEntry, '2801'],
    ['SchedulerEntry invalid wire type', decodeSchedulerEntry, '0f'],
    ['SchedulerEnqueueEvent garbage', decodeSchedulerEnqueueEvent, 'ffff'],
    ['SchedulerEnqueueEvent truncated timestamp', decodeSchedulerEnqueueEvent, '120c0883838ad806'],
  ];
  for (const [what, decode, bytes] of otherGarbage) {
    it(`throws on ${what}`, () => {
      assert.throws(() => decode(unhex(bytes)), Error);
    });
  }

  it('ServerInfo/WorkerInfo: every cut inside a field throws', () => {
    for (const c of [firstGolden('ServerInfo'), firstGolden('WorkerInfo')]) {
      const decode = c.kind === 'ServerInfo' ? decodeServerInfo : decodeWorkerInfo;
      const bytes = unhex(c.blob.hex);
      const boundaries = new Set<number>([0]);
      let at = 0;
      for (const f of topLevelFields(bytes)) boundaries.add((at += f.hex.length / 2));
      for (let cut = 1; cut < bytes.length; cut++) {
        if (!boundaries.has(cut)) assert.throws(() => decode(bytes.subarray(0, cut)), Error, `cut at ${cut}`);
      }
    }
  });
});

describe('newTaskMessage', () => {
  it('fills proto3 defaults', () => {
    const msg = newTaskMessage({ type: 't', id: 'i', queue: 'q' });
    assert.deepEqual(comparable(msg), {
      type: 't',
      payload: '',
      id: 'i',
      queue: 'q',
      retry: 0,
      retried: 0,
      errorMsg: '',
      lastFailedAt: 0,
      timeout: 0,
      deadline: 0,
      uniqueKey: '',
      groupKey: '',
      retention: 0,
      completedAt: 0,
      headers: {},
    });
  });

  it('keeps given fields', () => {
    const payload = new Uint8Array([1]);
    const msg = newTaskMessage({ type: 't', id: 'i', queue: 'q', retry: 25, payload, headers: { a: 'b' } });
    assert.equal(msg.retry, 25);
    assert.equal(msg.payload, payload);
    assert.deepEqual(msg.headers, { a: 'b' });
  });

  it('GO_ZERO_TIME is 0001-01-01T00:00:00Z', () => {
    assert.equal(GO_ZERO_TIME.toISOString(), '0001-01-01T00:00:00.000Z');
    assert.equal(GO_ZERO_TIME.getTime(), -62_135_596_800_000);
  });
});

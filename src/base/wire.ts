/**
 * Protobuf encoding of the records asynq stores in Redis (spec §3), byte-compatible with Go asynq.
 *
 * Every function converts between the plain shapes of `base/message.ts` and protobuf bytes, so no
 * protobuf type leaks into the rest of taskmill. The rules that make the bytes match Go's:
 *
 * - proto3 default omission: a field holding 0, `''`, empty bytes or an empty map is not written;
 * - fields are written in ascending field-number order (protobuf-go's order);
 * - map entries always carry both key (field 1) and value (field 2), as protobuf-go writes them;
 * - `google.protobuf.Timestamp` submessages are always written, even for Go's zero time, because
 *   asynqmon (asynq v0.24.1) rejects records with a missing timestamp (spec §3.6, §11.3);
 * - unknown fields are skipped on decode, so records from newer Go versions still decode.
 *
 * TaskMessage is encoded and decoded once per processed task, so it has a hand-written codec. It
 * decodes with the library's `BinaryReader`. It encodes the common case (every number a
 * non-negative integer in range) straight into one Buffer, and anything else on the library's
 * `BinaryWriter`; tests check that both write the generated schema's bytes. Measured with
 * `scripts/measure-wire.mts` on a typical 166-byte message: the reflection-based
 * `fromBinary`/`toBinary` took about 1.6–2 µs per decode and 3.5–4 µs per encode; on the writer,
 * encoding takes about 1.4 µs; the direct encoder takes 0.43 µs, and decoding 0.39-0.42 µs. The
 * other records are written about once per heartbeat (5 s), so they use the generated schema.
 *
 * Every encoder returns a Node `Buffer` (typed as `Uint8Array`), because ioredis sends only
 * `Buffer` arguments as binary; see {@link asBuffer}.
 *
 * Decoders throw a plain `Error` (or `RangeError`/`TypeError` from the library) for bytes that are
 * not a well-formed message: truncated input, invalid tags, a known field with the wrong wire type,
 * invalid UTF-8 in a string, a submessage overrunning its length. Callers turn that into their own
 * typed error. Encoders throw for values the wire type cannot hold (non-integers, out-of-range
 * numbers, invalid `Date`s).
 *
 * @module
 */

import { create, fromBinary, ScalarType, toBinary } from '@bufbuild/protobuf';
import type { DescField, DescMessage } from '@bufbuild/protobuf';
import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { TimestampSchema } from '@bufbuild/protobuf/wkt';
import type { Timestamp } from '@bufbuild/protobuf/wkt';
import {
  SchedulerEnqueueEventSchema,
  SchedulerEntrySchema,
  ServerInfoSchema,
  WorkerInfoSchema,
} from '../gen/asynq_pb.js';
import { GO_ZERO_TIME } from './message.js';
import type {
  SchedulerEnqueueEvent,
  SchedulerEntry,
  ServerInfo,
  TaskMessage,
  WorkerInfo,
} from './message.js';

// ---------------------------------------------------------------------------------------------
// TaskMessage: hand-written codec (hot path)
// ---------------------------------------------------------------------------------------------

// Precomputed tags, (field number << 3) | wire type, for TaskMessage (spec §3.1).
const TAG_TYPE = 0x0a; // 1, length-delimited
const TAG_PAYLOAD = 0x12; // 2, length-delimited
const TAG_ID = 0x1a; // 3, length-delimited
const TAG_QUEUE = 0x22; // 4, length-delimited
const TAG_RETRY = 0x28; // 5, varint
const TAG_RETRIED = 0x30; // 6, varint
const TAG_ERROR_MSG = 0x3a; // 7, length-delimited
const TAG_TIMEOUT = 0x40; // 8, varint
const TAG_DEADLINE = 0x48; // 9, varint
const TAG_UNIQUE_KEY = 0x52; // 10, length-delimited
const TAG_LAST_FAILED_AT = 0x58; // 11, varint
const TAG_RETENTION = 0x60; // 12, varint
const TAG_COMPLETED_AT = 0x68; // 13, varint
const TAG_GROUP_KEY = 0x72; // 14, length-delimited
const TAG_HEADERS = 0x7a; // 15, length-delimited
// Inside a map entry: key = field 1, value = field 2, both strings here.
const TAG_ENTRY_KEY = 0x0a;
const TAG_ENTRY_VALUE = 0x12;

/** Shared by all decoded messages without a payload; zero-length, so it cannot be mutated. */
const EMPTY_BYTES = new Uint8Array(0);

/**
 * Messages above this size do not keep the shared writer's grown buffer alive (see
 * {@link encodeTaskMessage}); a rare 10 MB payload should not pin 16 MB for the process lifetime.
 */
const MAX_RETAINED_WRITER_BYTES = 64 * 1024;

// One writer reused for every TaskMessage: `finish()` copies the bytes out and resets the position
// but keeps the buffer, so steady-state encoding allocates only the returned array. Safe because
// encoding is synchronous and never re-entrant.
let taskWriter = new BinaryWriter();

/**
 * Encodes a {@link TaskMessage} exactly as Go asynq does (proto3, zero fields omitted, ascending
 * field numbers). Header entries are written in the object's key order; Go's order is random.
 *
 * @param msg - The message; integer fields must be integers in range (int32 for `retry`/`retried`,
 *   safe integers for the int64 second counts).
 * @returns Fresh bytes (a `Buffer`), ready to store in the task hash's `msg` field.
 * @throws Error if a numeric field is not an integer of the right range.
 */
export function encodeTaskMessage(msg: TaskMessage): Uint8Array {
  return encodeDirect(msg) ?? encodeWithWriter(msg);
}

/** The largest value the direct encoder writes as a varint (bigger or negative: the writer). */
const MAX_DIRECT_VARINT = Number.MAX_SAFE_INTEGER;
const MAX_INT32 = 0x7fffffff;

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    size++;
  }
  return size;
}

function writeVarint(buf: Buffer, at: number, value: number): number {
  while (value >= 0x80) {
    buf[at++] = (value % 0x80) | 0x80;
    value = Math.floor(value / 0x80);
  }
  buf[at++] = value;
  return at;
}

function isDirectInt(value: number, max: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= max;
}

/** Size of a length-delimited field holding `length` bytes (tag byte included). */
function delimitedSize(length: number): number {
  return 1 + varintSize(length) + length;
}

/** Size of a varint field unless it is 0 (then it is omitted). */
function varintFieldSize(value: number): number {
  return value === 0 ? 0 : 1 + varintSize(value);
}

function writeString(buf: Buffer, at: number, tag: number, value: string, length: number): number {
  buf[at++] = tag;
  at = writeVarint(buf, at, length);
  return at + buf.write(value, at, length, 'utf8');
}

function writeVarintField(buf: Buffer, at: number, tag: number, value: number): number {
  if (value === 0) return at;
  buf[at++] = tag;
  return writeVarint(buf, at, value);
}

/**
 * The common case, written straight into one Buffer: every number a non-negative integer in range.
 * Measures every field first, so it allocates exactly once and calls into native code only to
 * write strings. Returns undefined for anything else (negative or non-integer numbers), which the
 * writer path then encodes or rejects; the bytes are the same wherever both paths apply (tested).
 */
function encodeDirect(msg: TaskMessage): Buffer | undefined {
  if (
    !isDirectInt(msg.retry, MAX_INT32) ||
    !isDirectInt(msg.retried, MAX_INT32) ||
    !isDirectInt(msg.timeout, MAX_DIRECT_VARINT) ||
    !isDirectInt(msg.deadline, MAX_DIRECT_VARINT) ||
    !isDirectInt(msg.lastFailedAt, MAX_DIRECT_VARINT) ||
    !isDirectInt(msg.retention, MAX_DIRECT_VARINT) ||
    !isDirectInt(msg.completedAt, MAX_DIRECT_VARINT)
  ) {
    return undefined;
  }
  const typeLength = Buffer.byteLength(msg.type);
  const idLength = Buffer.byteLength(msg.id);
  const queueLength = Buffer.byteLength(msg.queue);
  const errorLength = msg.errorMsg === '' ? 0 : Buffer.byteLength(msg.errorMsg);
  const uniqueLength = msg.uniqueKey === '' ? 0 : Buffer.byteLength(msg.uniqueKey);
  const groupLength = msg.groupKey === '' ? 0 : Buffer.byteLength(msg.groupKey);
  const payload = msg.payload;
  let size =
    (typeLength === 0 ? 0 : delimitedSize(typeLength)) +
    (payload.byteLength === 0 ? 0 : delimitedSize(payload.byteLength)) +
    (idLength === 0 ? 0 : delimitedSize(idLength)) +
    (queueLength === 0 ? 0 : delimitedSize(queueLength)) +
    varintFieldSize(msg.retry) +
    varintFieldSize(msg.retried) +
    (errorLength === 0 ? 0 : delimitedSize(errorLength)) +
    varintFieldSize(msg.timeout) +
    varintFieldSize(msg.deadline) +
    (uniqueLength === 0 ? 0 : delimitedSize(uniqueLength)) +
    varintFieldSize(msg.lastFailedAt) +
    varintFieldSize(msg.retention) +
    varintFieldSize(msg.completedAt) +
    (groupLength === 0 ? 0 : delimitedSize(groupLength));
  const headers = msg.headers;
  let entries: number[] | undefined;
  for (const key in headers) {
    if (!Object.hasOwn(headers, key)) continue;
    const keyLength = Buffer.byteLength(key);
    const valueLength = Buffer.byteLength(headers[key] as string);
    const entryLength = delimitedSize(keyLength) + delimitedSize(valueLength);
    (entries ??= []).push(keyLength, valueLength, entryLength);
    size += delimitedSize(entryLength);
  }
  const buf = Buffer.allocUnsafe(size);
  let at = 0;
  if (typeLength !== 0) at = writeString(buf, at, TAG_TYPE, msg.type, typeLength);
  if (payload.byteLength !== 0) {
    buf[at++] = TAG_PAYLOAD;
    at = writeVarint(buf, at, payload.byteLength);
    buf.set(payload, at);
    at += payload.byteLength;
  }
  if (idLength !== 0) at = writeString(buf, at, TAG_ID, msg.id, idLength);
  if (queueLength !== 0) at = writeString(buf, at, TAG_QUEUE, msg.queue, queueLength);
  at = writeVarintField(buf, at, TAG_RETRY, msg.retry);
  at = writeVarintField(buf, at, TAG_RETRIED, msg.retried);
  if (errorLength !== 0) at = writeString(buf, at, TAG_ERROR_MSG, msg.errorMsg, errorLength);
  at = writeVarintField(buf, at, TAG_TIMEOUT, msg.timeout);
  at = writeVarintField(buf, at, TAG_DEADLINE, msg.deadline);
  if (uniqueLength !== 0) at = writeString(buf, at, TAG_UNIQUE_KEY, msg.uniqueKey, uniqueLength);
  at = writeVarintField(buf, at, TAG_LAST_FAILED_AT, msg.lastFailedAt);
  at = writeVarintField(buf, at, TAG_RETENTION, msg.retention);
  at = writeVarintField(buf, at, TAG_COMPLETED_AT, msg.completedAt);
  if (groupLength !== 0) at = writeString(buf, at, TAG_GROUP_KEY, msg.groupKey, groupLength);
  if (entries) {
    let i = 0;
    for (const key in headers) {
      if (!Object.hasOwn(headers, key)) continue;
      const keyLength = entries[i] as number;
      const valueLength = entries[i + 1] as number;
      const entryLength = entries[i + 2] as number;
      i += 3;
      buf[at++] = TAG_HEADERS;
      at = writeVarint(buf, at, entryLength);
      at = writeString(buf, at, TAG_ENTRY_KEY, key, keyLength);
      at = writeString(buf, at, TAG_ENTRY_VALUE, headers[key] as string, valueLength);
    }
  }
  return buf;
}

/** The general path (any number the wire types allow), on the library's writer. */
function encodeWithWriter(msg: TaskMessage): Uint8Array {
  const w = taskWriter;
  let bytes: Uint8Array;
  try {
    if (msg.type !== '') w.uint32(TAG_TYPE).string(msg.type);
    if (msg.payload.byteLength !== 0) w.uint32(TAG_PAYLOAD).bytes(msg.payload);
    if (msg.id !== '') w.uint32(TAG_ID).string(msg.id);
    if (msg.queue !== '') w.uint32(TAG_QUEUE).string(msg.queue);
    if (msg.retry !== 0) w.uint32(TAG_RETRY).int32(msg.retry);
    if (msg.retried !== 0) w.uint32(TAG_RETRIED).int32(msg.retried);
    if (msg.errorMsg !== '') w.uint32(TAG_ERROR_MSG).string(msg.errorMsg);
    writeInt64(w, TAG_TIMEOUT, msg.timeout);
    writeInt64(w, TAG_DEADLINE, msg.deadline);
    if (msg.uniqueKey !== '') w.uint32(TAG_UNIQUE_KEY).string(msg.uniqueKey);
    writeInt64(w, TAG_LAST_FAILED_AT, msg.lastFailedAt);
    writeInt64(w, TAG_RETENTION, msg.retention);
    writeInt64(w, TAG_COMPLETED_AT, msg.completedAt);
    if (msg.groupKey !== '') w.uint32(TAG_GROUP_KEY).string(msg.groupKey);
    const headers = msg.headers;
    for (const key in headers) {
      if (!Object.hasOwn(headers, key)) continue;
      // protobuf-go writes both key and value of every map entry, even when they are empty.
      w.uint32(TAG_HEADERS).fork();
      w.uint32(TAG_ENTRY_KEY).string(key);
      w.uint32(TAG_ENTRY_VALUE).string(headers[key] as string);
      w.join();
    }
    bytes = w.finish();
  } catch (err) {
    // The writer may hold a half-written message or an open fork; start over with a fresh one.
    taskWriter = new BinaryWriter();
    throw err;
  }
  if (bytes.byteLength > MAX_RETAINED_WRITER_BYTES) taskWriter = new BinaryWriter();
  return asBuffer(bytes);
}

/**
 * Wraps encoded bytes in a `Buffer` over the same memory (no copy).
 *
 * The encoders are typed as returning `Uint8Array`, but what they return must be a `Buffer`:
 * ioredis only sends `Buffer` arguments as binary and turns any other object into a string, so a
 * plain `Uint8Array` would reach Redis as "10,10,101,...".
 */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Writes an int64 field unless it is 0. Non-negative values below 2^32 take the uint32 varint path,
 * which produces the same bytes as int64 but skips the library's BigInt conversion; everything else
 * (negative numbers, large values) goes through `int64()`, which also rejects non-integers.
 */
function writeInt64(w: BinaryWriter, tag: number, value: number): void {
  if (value === 0) return;
  w.uint32(tag);
  if (value > 0 && value <= 0xffffffff) w.uint32(value);
  else w.int64(value);
}

/**
 * Decodes the `msg` field of a task hash into a {@link TaskMessage}. Absent fields get their proto3
 * defaults; unknown fields are skipped.
 *
 * `payload` is a view into `bytes` (no copy): do not reuse or mutate the input buffer while the
 * message is in use, and note that the view keeps the whole input buffer alive. ioredis replies are
 * safe: its parser never overwrites a slice it has handed out.
 *
 * @param bytes - The raw protobuf bytes (a Node `Buffer` works).
 * @returns The decoded message; int64 second counts become numbers.
 * @throws Error if the bytes are not a well-formed TaskMessage.
 */
export function decodeTaskMessage(bytes: Uint8Array): TaskMessage {
  const r = new BinaryReader(bytes);
  const end = bytes.byteLength;
  let type = '';
  let payload: Uint8Array = EMPTY_BYTES;
  let id = '';
  let queue = '';
  let retry = 0;
  let retried = 0;
  let errorMsg = '';
  let lastFailedAt = 0;
  let timeout = 0;
  let deadline = 0;
  let uniqueKey = '';
  let groupKey = '';
  let retention = 0;
  let completedAt = 0;
  const headers: Record<string, string> = {};
  while (r.pos < end) {
    // tag() rejects field number 0, wire types 6/7 and over-long tags.
    const [fieldNo, wireType] = r.tag();
    // Field numbers are fixed forever, so a known number with the wrong wire type cannot come from
    // any asynq writer: treat it as corruption instead of skipping it like protobuf-go would.
    switch (fieldNo) {
      case 1:
        expectWireType(wireType, WireType.LengthDelimited, 'TaskMessage', fieldNo);
        type = r.string(true);
        break;
      case 2:
        expectWireType(wireType, WireType.LengthDelimited, 'TaskMessage', fieldNo);
        payload = r.bytes();
        break;
      case 3:
        expectWireType(wireType, WireType.LengthDelimited, 'TaskMessage', fieldNo);
        id = r.string(true);
        break;
      case 4:
        expectWireType(wireType, WireType.LengthDelimited, 'TaskMessage', fieldNo);
        queue = r.string(true);
        break;
      case 5:
        expectWireType(wireType, WireType.Varint, 'TaskMessage', fieldNo);
        retry = r.int32();
        break;
      case 6:
        expectWireType(wireType, WireType.Varint, 'TaskMessage', fieldNo);
        retried = r.int32();
        break;
      case 7:
        expectWireType(wireType, WireType.LengthDelimited, 'TaskMessage', fieldNo);
        errorMsg = r.string(true);
        break;
      case 8:
        expectWireType(wireType, WireType.Varint, 'TaskMessage', fieldNo);
        timeout = Number(r.int64());
        break;
      case 9:
        expectWireType(wireType, WireType.Varint, 'TaskMessage', fieldNo);
        deadline = Number(r.int64());
        break;
      case 10:
        expectWireType(wireType, WireType.LengthDelimited, 'TaskMessage', fieldNo);
        uniqueKey = r.string(true);
        break;
      case 11:
        expectWireType(wireType, WireType.Varint, 'TaskMessage', fieldNo);
        lastFailedAt = Number(r.int64());
        break;
      case 12:
        expectWireType(wireType, WireType.Varint, 'TaskMessage', fieldNo);
        retention = Number(r.int64());
        break;
      case 13:
        expectWireType(wireType, WireType.Varint, 'TaskMessage', fieldNo);
        completedAt = Number(r.int64());
        break;
      case 14:
        expectWireType(wireType, WireType.LengthDelimited, 'TaskMessage', fieldNo);
        groupKey = r.string(true);
        break;
      case 15:
        expectWireType(wireType, WireType.LengthDelimited, 'TaskMessage', fieldNo);
        readStringMapEntry(r, headers);
        break;
      default:
        r.skip(wireType, fieldNo);
    }
  }
  // Same property order as newTaskMessage(), so all TaskMessages share one hidden class.
  return {
    type,
    payload,
    id,
    queue,
    retry,
    retried,
    errorMsg,
    lastFailedAt,
    timeout,
    deadline,
    uniqueKey,
    groupKey,
    retention,
    completedAt,
    headers,
  };
}

/**
 * Reads one length-delimited `map<string,string>` entry into `into`. A missing key or value means
 * `''` (proto3); a repeated key overwrites the earlier entry, as in Go.
 */
function readStringMapEntry(r: BinaryReader, into: Record<string, string>): void {
  const len = r.uint32();
  const end = r.pos + len;
  let key = '';
  let value = '';
  while (r.pos < end) {
    const [fieldNo, wireType] = r.tag();
    if (fieldNo === 1) {
      expectWireType(wireType, WireType.LengthDelimited, 'map entry', fieldNo);
      key = r.string(true);
    } else if (fieldNo === 2) {
      expectWireType(wireType, WireType.LengthDelimited, 'map entry', fieldNo);
      value = r.string(true);
    } else {
      r.skip(wireType, fieldNo);
    }
  }
  // The reader only checks bounds against the whole buffer; an entry whose last field runs past the
  // entry's own length would otherwise swallow the following fields.
  if (r.pos !== end) throw new Error('invalid protobuf: map entry overruns its length');
  setOwn(into, key, value);
}

/**
 * Sets `obj[key] = value` as an own, enumerable property even for the key `__proto__`, where plain
 * assignment would instead try to change the object's prototype and silently drop the entry.
 */
function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

function expectWireType(actual: WireType, expected: WireType, message: string, fieldNo: number): void {
  if (actual !== expected) {
    throw new Error(
      `invalid protobuf: ${message} field ${fieldNo} has wire type ${actual}, expected ${expected}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Timestamps
// ---------------------------------------------------------------------------------------------

const GO_ZERO_TIME_MS = GO_ZERO_TIME.getTime();

/**
 * Converts a `Date` to a Timestamp the way Go converts a `time.Time`: seconds = floor(ms / 1000),
 * nanos = the non-negative remainder (ms mod 1000) × 10^6. Go's zero time becomes
 * seconds −62135596800, nanos 0, exactly the bytes Go writes (spec §3.6).
 */
function toTimestamp(date: Date, what: string): Timestamp {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) throw new RangeError(`cannot encode ${what}: invalid Date`);
  const seconds = Math.floor(ms / 1000);
  return create(TimestampSchema, { seconds: BigInt(seconds), nanos: (ms - seconds * 1000) * 1_000_000 });
}

/**
 * Converts a decoded Timestamp to a `Date`, truncating nanoseconds to milliseconds. A missing
 * Timestamp yields Go's zero time (a fresh `Date`, so callers may mutate it), matching what Go
 * itself writes for "unset", rather than the 1970 epoch current Go would decode it as.
 */
function fromTimestamp(ts: Timestamp | undefined, what: string): Date {
  if (ts === undefined) return new Date(GO_ZERO_TIME_MS);
  if (ts.nanos < 0 || ts.nanos > 999_999_999) {
    throw new Error(`invalid protobuf: ${what} has nanos ${ts.nanos} outside [0, 999999999]`);
  }
  const date = new Date(Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1_000_000));
  if (Number.isNaN(date.getTime())) {
    throw new Error(`invalid protobuf: ${what} seconds ${ts.seconds} are outside the Date range`);
  }
  return date;
}

// ---------------------------------------------------------------------------------------------
// Structural check for the schema-decoded messages
// ---------------------------------------------------------------------------------------------

/** Options for fromBinary: we never re-encode decoded messages, so do not keep unknown fields. */
const READ_OPTIONS = { readUnknownFields: false } as const;

/** Nesting limit for {@link checkMessage}; our schema nests two levels deep at most. */
const MAX_DEPTH = 16;

/**
 * Validates the wire structure of `bytes` against `desc` before `fromBinary` parses it.
 *
 * `fromBinary` checks bounds and tags, but it reads a known field with whatever wire type it finds
 * (`08 00`, field 1 with the varint wire type, "decodes" as an empty string) and lets the last field
 * of a submessage run past the submessage's length. Both turn corrupt bytes into plausible-looking
 * junk; this pass makes them errors. It costs one extra scan, acceptable for these rare records.
 */
function assertWellFormed(desc: DescMessage, bytes: Uint8Array): void {
  checkMessage(desc, new BinaryReader(bytes), bytes.byteLength, 0);
}

function checkMessage(desc: DescMessage, r: BinaryReader, end: number, depth: number): void {
  if (depth > MAX_DEPTH) throw new Error(`invalid protobuf: ${desc.typeName} nested too deeply`);
  while (r.pos < end) {
    const [fieldNo, wireType] = r.tag();
    const field = desc.fields.find((f) => f.number === fieldNo);
    if (field === undefined) {
      r.skip(wireType, fieldNo);
      continue;
    }
    const name = `${desc.typeName}.${field.name}`;
    switch (field.fieldKind) {
      case 'scalar':
        expectWireType(wireType, scalarWireType(field.scalar), name, fieldNo);
        r.skip(wireType, fieldNo);
        break;
      case 'enum':
        expectWireType(wireType, WireType.Varint, name, fieldNo);
        r.skip(wireType, fieldNo);
        break;
      case 'message':
        expectWireType(wireType, WireType.LengthDelimited, name, fieldNo);
        checkNested(field.message, r, end, depth);
        break;
      case 'list':
        if (field.listKind === 'message') {
          expectWireType(wireType, WireType.LengthDelimited, name, fieldNo);
          checkNested(field.message, r, end, depth);
        } else {
          // scalar is undefined exactly for enum lists, whose elements are varints.
          const elementType = field.scalar === undefined ? WireType.Varint : scalarWireType(field.scalar);
          // Numeric lists may also arrive packed, i.e. as one length-delimited run.
          if (wireType !== WireType.LengthDelimited) expectWireType(wireType, elementType, name, fieldNo);
          r.skip(wireType, fieldNo);
        }
        break;
      case 'map':
        expectWireType(wireType, WireType.LengthDelimited, name, fieldNo);
        checkMapEntry(field, name, r, end, depth);
        break;
    }
  }
  if (r.pos !== end) throw new Error(`invalid protobuf: last field of ${desc.typeName} overruns its length`);
}

/** Checks one length-delimited submessage starting at the reader's position (its length prefix). */
function checkNested(desc: DescMessage, r: BinaryReader, parentEnd: number, depth: number): void {
  const len = r.uint32();
  const end = r.pos + len;
  if (end > parentEnd) throw new Error(`invalid protobuf: ${desc.typeName} overruns its parent`);
  checkMessage(desc, r, end, depth + 1);
}

function checkMapEntry(
  field: DescField & { fieldKind: 'map' },
  name: string,
  r: BinaryReader,
  parentEnd: number,
  depth: number,
): void {
  const len = r.uint32();
  const end = r.pos + len;
  if (end > parentEnd) throw new Error(`invalid protobuf: ${name} entry overruns its parent`);
  while (r.pos < end) {
    const [fieldNo, wireType] = r.tag();
    if (fieldNo === 1) {
      expectWireType(wireType, scalarWireType(field.mapKey), `${name} key`, fieldNo);
      r.skip(wireType, fieldNo);
    } else if (fieldNo === 2 && field.mapKind === 'message') {
      expectWireType(wireType, WireType.LengthDelimited, `${name} value`, fieldNo);
      checkNested(field.message, r, end, depth);
    } else if (fieldNo === 2) {
      // scalar is undefined exactly for enum values, which are varints.
      const valueType = field.scalar === undefined ? WireType.Varint : scalarWireType(field.scalar);
      expectWireType(wireType, valueType, `${name} value`, fieldNo);
      r.skip(wireType, fieldNo);
    } else {
      r.skip(wireType, fieldNo);
    }
  }
  if (r.pos !== end) throw new Error(`invalid protobuf: ${name} entry overruns its length`);
}

/** The wire type a scalar of this type is written with. */
function scalarWireType(type: ScalarType): WireType {
  switch (type) {
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return WireType.LengthDelimited;
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return WireType.Bit64;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return WireType.Bit32;
    default:
      return WireType.Varint;
  }
}

// ---------------------------------------------------------------------------------------------
// ServerInfo, WorkerInfo, SchedulerEntry, SchedulerEnqueueEvent: generated schema
// ---------------------------------------------------------------------------------------------

/**
 * Encodes a {@link ServerInfo} (the value of `asynq:servers:{host:pid:serverId}`). `startTime` is
 * always written, with millisecond precision. Queue entries are written in the object's key order.
 *
 * @throws Error if an int32 field is not an int32 or `startTime` is an invalid Date.
 */
export function encodeServerInfo(info: ServerInfo): Uint8Array {
  const bytes = toBinary(
    ServerInfoSchema,
    create(ServerInfoSchema, {
      host: info.host,
      pid: info.pid,
      serverId: info.serverId,
      concurrency: info.concurrency,
      queues: info.queues,
      strictPriority: info.strictPriority,
      status: info.status,
      startTime: toTimestamp(info.startTime, 'ServerInfo.startTime'),
      activeWorkerCount: info.activeWorkerCount,
    }),
  );
  return asBuffer(bytes);
}

/**
 * Decodes a {@link ServerInfo}. Timestamps are truncated to milliseconds; a missing `start_time`
 * yields {@link GO_ZERO_TIME}.
 *
 * @throws Error if the bytes are not a well-formed ServerInfo.
 */
export function decodeServerInfo(bytes: Uint8Array): ServerInfo {
  assertWellFormed(ServerInfoSchema, bytes);
  const m = fromBinary(ServerInfoSchema, bytes, READ_OPTIONS);
  return {
    host: m.host,
    pid: m.pid,
    serverId: m.serverId,
    concurrency: m.concurrency,
    queues: m.queues,
    strictPriority: m.strictPriority,
    status: m.status,
    startTime: fromTimestamp(m.startTime, 'ServerInfo.start_time'),
    activeWorkerCount: m.activeWorkerCount,
  };
}

/**
 * Encodes a {@link WorkerInfo} (a field value of `asynq:workers:{host:pid:serverId}`). Both
 * timestamps are always written, with millisecond precision.
 *
 * @throws Error if `pid` is not an int32 or a timestamp is an invalid Date.
 */
export function encodeWorkerInfo(info: WorkerInfo): Uint8Array {
  const bytes = toBinary(
    WorkerInfoSchema,
    create(WorkerInfoSchema, {
      host: info.host,
      pid: info.pid,
      serverId: info.serverId,
      taskId: info.taskId,
      taskType: info.taskType,
      taskPayload: info.taskPayload,
      queue: info.queue,
      startTime: toTimestamp(info.startTime, 'WorkerInfo.startTime'),
      deadline: toTimestamp(info.deadline, 'WorkerInfo.deadline'),
    }),
  );
  return asBuffer(bytes);
}

/**
 * Decodes a {@link WorkerInfo}. `taskPayload` is a view into `bytes`. Timestamps are truncated to
 * milliseconds; missing ones yield {@link GO_ZERO_TIME}.
 *
 * @throws Error if the bytes are not a well-formed WorkerInfo.
 */
export function decodeWorkerInfo(bytes: Uint8Array): WorkerInfo {
  assertWellFormed(WorkerInfoSchema, bytes);
  const m = fromBinary(WorkerInfoSchema, bytes, READ_OPTIONS);
  return {
    host: m.host,
    pid: m.pid,
    serverId: m.serverId,
    taskId: m.taskId,
    taskType: m.taskType,
    taskPayload: m.taskPayload,
    queue: m.queue,
    startTime: fromTimestamp(m.startTime, 'WorkerInfo.start_time'),
    deadline: fromTimestamp(m.deadline, 'WorkerInfo.deadline'),
  };
}

/**
 * Encodes a {@link SchedulerEntry} (an element of `asynq:schedulers:{schedulerId}`). Both
 * timestamps are always written; pass {@link GO_ZERO_TIME} as `prevEnqueueTime` for an entry that
 * has never fired, so asynqmon hides it (spec §3.6).
 *
 * @throws Error if a timestamp is an invalid Date.
 */
export function encodeSchedulerEntry(entry: SchedulerEntry): Uint8Array {
  const bytes = toBinary(
    SchedulerEntrySchema,
    create(SchedulerEntrySchema, {
      id: entry.id,
      spec: entry.spec,
      taskType: entry.taskType,
      taskPayload: entry.taskPayload,
      enqueueOptions: entry.enqueueOptions,
      nextEnqueueTime: toTimestamp(entry.nextEnqueueTime, 'SchedulerEntry.nextEnqueueTime'),
      prevEnqueueTime: toTimestamp(entry.prevEnqueueTime, 'SchedulerEntry.prevEnqueueTime'),
    }),
  );
  return asBuffer(bytes);
}

/**
 * Decodes a {@link SchedulerEntry}. `taskPayload` is a view into `bytes`. Timestamps are truncated
 * to milliseconds; missing ones yield {@link GO_ZERO_TIME}.
 *
 * @throws Error if the bytes are not a well-formed SchedulerEntry.
 */
export function decodeSchedulerEntry(bytes: Uint8Array): SchedulerEntry {
  assertWellFormed(SchedulerEntrySchema, bytes);
  const m = fromBinary(SchedulerEntrySchema, bytes, READ_OPTIONS);
  return {
    id: m.id,
    spec: m.spec,
    taskType: m.taskType,
    taskPayload: m.taskPayload,
    enqueueOptions: m.enqueueOptions,
    nextEnqueueTime: fromTimestamp(m.nextEnqueueTime, 'SchedulerEntry.next_enqueue_time'),
    prevEnqueueTime: fromTimestamp(m.prevEnqueueTime, 'SchedulerEntry.prev_enqueue_time'),
  };
}

/**
 * Encodes a {@link SchedulerEnqueueEvent} (a member of `asynq:scheduler_history:<entryId>`).
 * `enqueueTime` is always written: a missing one makes asynqmon's whole history listing fail.
 *
 * @throws Error if `enqueueTime` is an invalid Date.
 */
export function encodeSchedulerEnqueueEvent(event: SchedulerEnqueueEvent): Uint8Array {
  const bytes = toBinary(
    SchedulerEnqueueEventSchema,
    create(SchedulerEnqueueEventSchema, {
      taskId: event.taskId,
      enqueueTime: toTimestamp(event.enqueueTime, 'SchedulerEnqueueEvent.enqueueTime'),
    }),
  );
  return asBuffer(bytes);
}

/**
 * Decodes a {@link SchedulerEnqueueEvent}. `enqueueTime` is truncated to milliseconds; a missing one
 * yields {@link GO_ZERO_TIME}.
 *
 * @throws Error if the bytes are not a well-formed SchedulerEnqueueEvent.
 */
export function decodeSchedulerEnqueueEvent(bytes: Uint8Array): SchedulerEnqueueEvent {
  assertWellFormed(SchedulerEnqueueEventSchema, bytes);
  const m = fromBinary(SchedulerEnqueueEventSchema, bytes, READ_OPTIONS);
  return {
    taskId: m.taskId,
    enqueueTime: fromTimestamp(m.enqueueTime, 'SchedulerEnqueueEvent.enqueue_time'),
  };
}

/**
 * RDB.writeServerState / clearServerState (write-server-state.lua, clear-server-state.lua and the
 * ZADD/ZREM on asynq:servers and asynq:workers that asynq runs outside the script).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as keys from '../../src/base/keys.js';
import type { ServerInfo, WorkerInfo } from '../../src/base/message.js';
import { unixSeconds } from '../../src/base/time.js';
import { decodeServerInfo, decodeWorkerInfo } from '../../src/base/wire.js';
import { useTestEnv } from '../helpers/setup.js';
import { getKeys, getZSetEntries, sortStrings, useRDB } from '../helpers/seed.js';

const env = useTestEnv();
const broker = useRDB(env);

const HOST = 'host-1';
const PID = 4242;
const SID = '5f2c0f4e-8d3b-4c61-9f55-3b3c0e0b7a11';
const SERVER_KEY = keys.serverInfoKey(HOST, PID, SID);
const WORKERS_KEY = keys.workersKey(HOST, PID, SID);

const info: ServerInfo = {
  host: HOST,
  pid: PID,
  serverId: SID,
  concurrency: 10,
  queues: { critical: 6, default: 3, low: 1 },
  strictPriority: false,
  status: 'active',
  startTime: new Date(1_700_000_000_123),
  activeWorkerCount: 2,
};

function worker(taskId: string): WorkerInfo {
  return {
    host: HOST,
    pid: PID,
    serverId: SID,
    taskId,
    taskType: 'email:send',
    taskPayload: Buffer.from(`{"id":"${taskId}"}`),
    queue: 'default',
    startTime: new Date(1_700_000_100_000),
    deadline: new Date(1_700_001_900_000),
  };
}

/** Decoded records with bytes and maps in plain forms that deepEqual can compare. */
function plainServer(s: ServerInfo): ServerInfo {
  return { ...s, queues: { ...s.queues } };
}
function plainWorker(w: WorkerInfo): WorkerInfo {
  return { ...w, taskPayload: Buffer.from(w.taskPayload) };
}

async function readWorkers(): Promise<Record<string, WorkerInfo>> {
  const raw = await env.raw.hgetallBuffer(WORKERS_KEY);
  return Object.fromEntries(
    Object.entries(raw).map(([id, bytes]) => [id, plainWorker(decodeWorkerInfo(bytes))]),
  );
}

/** Remaining TTL in whole seconds, rounded up. */
async function ttlSec(key: string): Promise<number> {
  const pttl = await env.raw.pttl(key);
  return pttl < 0 ? pttl : Math.ceil(pttl / 1000);
}

describe('RDB.writeServerState', () => {
  const nowMs = Date.now();
  const expiry = unixSeconds(nowMs + 20_000);

  test('writes ServerInfo and one WorkerInfo per task with the TTL, and scores both ZSETs by expiry', async () => {
    await broker.rdb.writeServerState(info, [worker('t1'), worker('t2')], 20_000, nowMs);

    assert.deepEqual(await getZSetEntries(env.raw, keys.ALL_SERVERS), [{ id: SERVER_KEY, score: expiry }]);
    assert.deepEqual(await getZSetEntries(env.raw, keys.ALL_WORKERS), [{ id: WORKERS_KEY, score: expiry }]);
    const stored = await env.raw.getBuffer(SERVER_KEY);
    assert.ok(stored);
    assert.deepEqual(plainServer(decodeServerInfo(stored)), info);
    assert.deepEqual(await readWorkers(), { t1: worker('t1'), t2: worker('t2') });
    for (const key of [SERVER_KEY, WORKERS_KEY]) {
      const ttl = await ttlSec(key);
      assert.ok(ttl >= 19 && ttl <= 20, `${key} ttl ${ttl}`);
    }
    assert.deepEqual(
      await getKeys(env.raw),
      sortStrings([keys.ALL_SERVERS, keys.ALL_WORKERS, SERVER_KEY, WORKERS_KEY]),
    );
  });

  test('a later beat replaces the worker hash, so finished tasks disappear', async () => {
    await broker.rdb.writeServerState(info, [worker('t1'), worker('t2')], 20_000, nowMs);
    await broker.rdb.writeServerState(
      { ...info, activeWorkerCount: 1 },
      [worker('t3')],
      20_000,
      nowMs + 5000,
    );
    assert.deepEqual(await readWorkers(), { t3: worker('t3') });
    assert.deepEqual(await getZSetEntries(env.raw, keys.ALL_SERVERS), [
      { id: SERVER_KEY, score: unixSeconds(nowMs + 25_000) },
    ]);
    const stored = await env.raw.getBuffer(SERVER_KEY);
    assert.equal(stored && decodeServerInfo(stored).activeWorkerCount, 1);
  });

  test('with no running tasks the workers key is absent but still listed in asynq:workers', async () => {
    await broker.rdb.writeServerState(info, [worker('t1')], 20_000, nowMs);
    await broker.rdb.writeServerState({ ...info, activeWorkerCount: 0 }, [], 20_000, nowMs);
    assert.equal(await env.raw.exists(WORKERS_KEY), 0);
    assert.deepEqual(await getZSetEntries(env.raw, keys.ALL_WORKERS), [{ id: WORKERS_KEY, score: expiry }]);
    assert.deepEqual(await getKeys(env.raw), sortStrings([keys.ALL_SERVERS, keys.ALL_WORKERS, SERVER_KEY]));
  });

  test('a TTL under a second is stored as one second', async () => {
    await broker.rdb.writeServerState(info, [], 300, nowMs);
    assert.equal(await ttlSec(SERVER_KEY), 1);
  });
});

describe('RDB.clearServerState', () => {
  test('removes this server’s keys and ZSET members and leaves other servers alone', async () => {
    const nowMs = Date.now();
    const other = { ...info, serverId: 'other-server' };
    await broker.rdb.writeServerState(info, [worker('t1')], 20_000, nowMs);
    await broker.rdb.writeServerState(other, [{ ...worker('t9'), serverId: 'other-server' }], 20_000, nowMs);

    await broker.rdb.clearServerState(HOST, PID, SID);

    const otherServer = keys.serverInfoKey(HOST, PID, 'other-server');
    const otherWorkers = keys.workersKey(HOST, PID, 'other-server');
    const expiry = unixSeconds(nowMs + 20_000);
    assert.deepEqual(await getZSetEntries(env.raw, keys.ALL_SERVERS), [{ id: otherServer, score: expiry }]);
    assert.deepEqual(await getZSetEntries(env.raw, keys.ALL_WORKERS), [{ id: otherWorkers, score: expiry }]);
    assert.deepEqual(
      await getKeys(env.raw),
      sortStrings([keys.ALL_SERVERS, keys.ALL_WORKERS, otherServer, otherWorkers]),
    );
  });

  test('clearing a server that wrote nothing succeeds and creates nothing', async () => {
    await broker.rdb.clearServerState(HOST, PID, SID);
    assert.deepEqual(await getKeys(env.raw), []);
  });
});

/**
 * The dashboard's JSON API over plain HTTP, on a private Redis holding tasks written by taskmill and
 * by Go asynq: reads, actions, the token, read-only mode, the CSRF rule, security headers, error
 * answers, mounting under a base path, request timeouts and the refusal to listen openly.
 */
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { before, describe, test } from 'node:test';
import {
  InsecureDashboardError,
  createDashboard,
  startDashboard,
  type RunningDashboard,
} from '../../src/index.js';
import {
  type Seeded,
  XSS_PAYLOAD,
  ensureDashboardBuilt,
  seedDashboard,
  stopSeeded,
} from '../helpers/dashboard.js';
import { useTestEnv } from '../helpers/setup.js';

const env = useTestEnv();
const TOKEN = 'test-token-1234';

interface Answer {
  status: number;
  headers: Headers;
  body: { error?: { code: string; message: string } } & Record<string, unknown>;
}

async function call(
  base: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<Answer> {
  const res = await fetch(new URL(path, base), {
    method: init.method ?? 'GET',
    headers: init.headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    redirect: 'manual',
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body: text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : {},
  };
}

const MUTATE = { 'X-Taskmill-Dashboard': '1', 'Content-Type': 'application/json' };

/**
 * Seeds the state (each test starts on an empty Redis: the environment flushes it and closes
 * servers between tests), starts a dashboard on it, and stops both after `fn`.
 */
async function withSeeded(fn: (base: string, seeded: Seeded) => Promise<void>): Promise<void> {
  let seeded: Seeded | undefined;
  let dash: RunningDashboard | undefined;
  try {
    seeded = await seedDashboard(env);
    dash = await startDashboard({ redis: env.redis.url });
    await fn(dash.url, seeded);
  } finally {
    await dash?.close();
    await stopSeeded(seeded);
  }
}

describe('dashboard API', () => {
  before(() => ensureDashboardBuilt());

  test('reads queues, pages of tasks, one task, search, servers, scheduler and groups', () =>
    withSeeded(async (base, seeded) => {
      assert.match(base, /^http:\/\/127\.0\.0\.1:\d+\/$/);

      const queues = await call(base, 'api/queues');
      assert.equal(queues.status, 200);
      const byName = new Map(
        (queues.body.queues as { queue: string; size: number; paused: boolean }[]).map((q) => [q.queue, q]),
      );
      assert.deepEqual([...byName.keys()].sort(), ['default', 'emails', 'media']);
      assert.equal(byName.get('emails')?.paused, true);

      const pending = await call(base, 'api/queues/emails/states/pending?page=2&pageSize=10');
      assert.equal(pending.status, 200);
      assert.equal(pending.body.total, 25);
      assert.equal((pending.body.tasks as unknown[]).length, 10);

      // Go asynq's archived task, with the error a Go worker recorded.
      const go = await call(base, `api/queues/default/tasks/${seeded.goArchivedId}`);
      assert.equal(go.status, 200);
      const goTask = go.body.task as { state: string; lastError: string; type: string };
      assert.equal(goTask.state, 'archived');
      assert.equal(goTask.type, 'life:archive');
      assert.equal(goTask.lastError, seeded.goArchivedError);
      // Go's binary payload is shown as a hex dump.
      const bin = await call(base, `api/queues/default/tasks/${seeded.goBinaryId}`);
      const payload = (bin.body.task as { payload: { kind: string; text: string } }).payload;
      assert.equal(payload.kind, 'binary');
      assert.match(payload.text, /^00000000 {2}00 ff 80 fe 22 5c 0d 0a 7f/);
      // JSON is pretty printed.
      const xss = await call(base, `api/queues/emails/tasks/${seeded.xssId}`);
      const xp = (xss.body.task as { payload: { kind: string; text: string } }).payload;
      assert.equal(xp.kind, 'json');
      assert.equal(xp.text, JSON.stringify(JSON.parse(XSS_PAYLOAD), null, 2));

      const waiting = await call(base, 'api/queues/emails/states/waiting');
      const w = (waiting.body.tasks as { id: string; waitingFor: { queue: string; id: string }[] }[])[0];
      assert.equal(w?.id, seeded.waitingId);
      assert.deepEqual(
        w?.waitingFor.map((p) => `${p.queue}/${p.id}`),
        [`media/${seeded.parentId}`],
      );

      const found = await call(base, `api/search?id=${seeded.completedId}`);
      const hits = found.body.tasks as { queue: string; state: string }[];
      assert.deepEqual(
        hits.map((t) => `${t.queue}:${t.state}`),
        ['media:completed'],
      );

      const servers = await call(base, 'api/servers');
      const list = servers.body.servers as { activeWorkers: { taskId: string }[] }[];
      assert.equal(list.length, 1);
      assert.deepEqual(
        list[0]?.activeWorkers.map((x) => x.taskId),
        [seeded.activeId],
      );

      const entries = await call(base, 'api/scheduler/entries');
      assert.deepEqual(
        (entries.body.entries as { id: string; spec: string }[]).map((e) => e.spec),
        ['@every 1s'],
      );
      const events = await call(base, `api/scheduler/entries/${seeded.entryId}/events`);
      assert.equal(events.status, 200);

      const groups = await call(base, 'api/groups');
      assert.deepEqual(groups.body.groups, [{ queue: 'emails', group: 'digest:alice', size: 3 }]);
      const agg = await call(base, 'api/queues/emails/states/aggregating?group=digest%3Aalice');
      assert.equal((agg.body.tasks as unknown[]).length, 3);

      const history = await call(base, 'api/history?days=3');
      assert.equal((history.body.history as unknown[]).length, 3);
      const explained = await call(base, `api/queues/emails/tasks/${seeded.waitingId}/explain`);
      const explanation = explained.body.explanation as { reason: { code: string }; summary: string };
      assert.equal(explanation.reason.code, 'waiting-dependencies');
      assert.match(explanation.summary, new RegExp(seeded.parentId));

      const metrics = await fetch(new URL('metrics', base));
      assert.equal(metrics.status, 200);
      assert.match(await metrics.text(), /asynq_queue_size\{queue="media"\} \d+/);

      const samples = await call(base, 'api/samples');
      assert.ok(Array.isArray(samples.body.total));
    }));

  test('actions: run, archive, delete, cancel, pause, unpause and bulk, with the CSRF header', () =>
    withSeeded(async (base, seeded) => {
      const run = await call(base, `api/queues/default/tasks/${seeded.goArchivedId}/run`, {
        method: 'POST',
        headers: MUTATE,
      });
      assert.equal(run.status, 200);
      const after = await call(base, `api/queues/default/tasks/${seeded.goArchivedId}`);
      assert.equal((after.body.task as { state: string }).state, 'pending');

      const archive = await call(base, `api/queues/emails/tasks/${seeded.xssId}/archive`, {
        method: 'POST',
        headers: MUTATE,
      });
      assert.equal(archive.status, 200);
      const del = await call(base, `api/queues/emails/tasks/${seeded.xssId}`, {
        method: 'DELETE',
        headers: MUTATE,
      });
      assert.equal(del.status, 200);
      const gone = await call(base, `api/queues/emails/tasks/${seeded.xssId}`);
      assert.equal(gone.status, 404);
      assert.equal(gone.body.error?.code, 'ERR_TASK_NOT_FOUND');

      // An operation the task's state does not allow: a coded 409.
      const again = await call(base, `api/queues/default/tasks/${seeded.goArchivedId}/run`, {
        method: 'POST',
        headers: MUTATE,
      });
      assert.equal(again.status, 409);
      assert.equal(again.body.error?.code, 'ERR_TASK_STATE');

      const cancel = await call(base, `api/queues/media/tasks/${seeded.activeId}/cancel`, {
        method: 'POST',
        headers: MUTATE,
        body: { retry: false },
      });
      assert.equal(cancel.status, 200);

      // The default queue (Go's tasks) is one the running server does not serve, so unpausing it
      // lets nothing run behind the test's back.
      const pause = await call(base, 'api/queues/default/pause', { method: 'POST', headers: MUTATE });
      assert.equal(pause.status, 200);
      const twice = await call(base, 'api/queues/default/pause', { method: 'POST', headers: MUTATE });
      assert.equal(twice.status, 409);
      assert.equal(twice.body.error?.code, 'ERR_QUEUE_ALREADY_PAUSED');
      const unpause = await call(base, 'api/queues/default/unpause', { method: 'POST', headers: MUTATE });
      assert.equal(unpause.status, 200);
      const queues = await call(base, 'api/queues');
      assert.equal(
        (queues.body.queues as { queue: string; paused: boolean }[]).find((q) => q.queue === 'default')
          ?.paused,
        false,
      );

      const bulk = await call(base, 'api/queues/emails/states/pending/delete', {
        method: 'POST',
        headers: MUTATE,
      });
      assert.deepEqual(bulk.body, { count: 25 });
      const bulkGroup = await call(base, 'api/queues/emails/states/aggregating/archive', {
        method: 'POST',
        headers: MUTATE,
        body: { group: 'digest:alice' },
      });
      assert.deepEqual(bulkGroup.body, { count: 3 });
    }));

  test('a mutating request without the header, from another origin or cross-site is refused (CSRF)', () =>
    withSeeded(async (base, seeded) => {
      const path = `api/queues/media/tasks/${seeded.completedId}`;
      const noHeader = await call(base, path, { method: 'DELETE' });
      assert.equal(noHeader.status, 403);
      assert.equal(noHeader.body.error?.code, 'ERR_CSRF');
      const otherOrigin = await call(base, path, {
        method: 'DELETE',
        headers: { ...MUTATE, Origin: 'https://evil.example' },
      });
      assert.equal(otherOrigin.status, 403);
      assert.equal(otherOrigin.body.error?.code, 'ERR_CSRF');
      const crossSite = await call(base, path, {
        method: 'DELETE',
        headers: { ...MUTATE, 'Sec-Fetch-Site': 'cross-site' },
      });
      assert.equal(crossSite.status, 403);
      // A form post (no custom header, a form content type) is refused too.
      const form = await fetch(new URL('api/queues/media/pause', base), {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: 'https://evil.example' },
        body: 'a=1',
      });
      assert.equal(form.status, 403);
      const still = await call(base, path);
      assert.equal(still.status, 200, 'the task is still there');
      const sameOrigin = await call(base, path, {
        method: 'DELETE',
        headers: { ...MUTATE, Origin: base.slice(0, -1) },
      });
      assert.equal(sameOrigin.status, 200);
    }));

  test('security headers on the page and the API; errors are JSON with a code', () =>
    withSeeded(async (url) => {
      const dash = { url };
      const page = await fetch(dash.url);
      assert.equal(page.status, 200);
      const csp = page.headers.get('content-security-policy') ?? '';
      assert.match(csp, /script-src 'self'/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
      const html = await page.text();
      assert.doesNotMatch(html, /<script>(?!<\/script>)/, 'no inline script in the page');
      const asset = /src="\.\/(assets\/[^"]+\.js)"/.exec(html)?.[1];
      assert.ok(asset, 'the page loads a built script');
      const js = await fetch(new URL(asset, dash.url));
      assert.equal(js.status, 200);
      assert.match(js.headers.get('content-type') ?? '', /javascript/);

      const missing = await call(dash.url, 'api/queues/nope');
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error?.code, 'ERR_QUEUE_NOT_FOUND');
      assert.equal(missing.headers.get('x-content-type-options'), 'nosniff');
      const badPage = await call(dash.url, 'api/queues/media/states/pending?pageSize=5000');
      assert.equal(badPage.status, 400);
      assert.equal(badPage.body.error?.code, 'ERR_INVALID_OPTION');
      const badState = await call(dash.url, 'api/queues/media/states/bogus');
      assert.equal(badState.body.error?.code, 'ERR_INVALID_OPTION');
      const noRoute = await call(dash.url, 'api/nothing/here');
      assert.equal(noRoute.body.error?.code, 'ERR_NOT_FOUND');
      const wrongMethod = await call(dash.url, 'api/queues', { method: 'DELETE', headers: MUTATE });
      assert.equal(wrongMethod.status, 405);
    }));

  test('a token guards every API route (401 without it) but not the page itself', async () => {
    const guarded = await startDashboard({ redis: env.redis.url, token: TOKEN });
    try {
      const none = await call(guarded.url, 'api/queues');
      assert.equal(none.status, 401);
      assert.equal(none.body.error?.code, 'ERR_UNAUTHORIZED');
      const wrong = await call(guarded.url, 'api/queues', {
        headers: { Authorization: 'Bearer wrong-token-0000' },
      });
      assert.equal(wrong.status, 401);
      const inQuery = await call(guarded.url, `api/queues?token=${TOKEN}`);
      assert.equal(inQuery.status, 401, 'the API takes the token only from the header');
      const ok = await call(guarded.url, 'api/queues', { headers: { Authorization: `Bearer ${TOKEN}` } });
      assert.equal(ok.status, 200);
      const page = await fetch(guarded.url);
      assert.equal(page.status, 200);
      assert.equal((await fetch(new URL('metrics', guarded.url))).status, 401);
      const scrape = await fetch(new URL('metrics', guarded.url), {
        headers: { Authorization: `Bearer ${TOKEN}` },
      });
      assert.equal(scrape.status, 200);
    } finally {
      await guarded.close();
    }
  });

  test('on loopback without a token only loopback host names are answered (DNS rebinding)', async () => {
    const dash = await startDashboard({ redis: env.redis.url });
    try {
      const port = new URL(dash.url).port;
      const rebound = await new Promise<number>((resolve, reject) => {
        // fetch() cannot set Host; a raw request can, as a rebound browser would send it.
        const req = request(
          { host: '127.0.0.1', port, path: '/api/queues', headers: { Host: `evil.example:${port}` } },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end();
      });
      assert.equal(rebound, 403);
      const local = await fetch(`http://localhost:${port}/api/config`).catch(() => undefined);
      // localhost may resolve to ::1 first, where nothing listens; 127.0.0.1 always answers.
      if (local) assert.equal(local.status, 200);
      assert.equal((await call(dash.url, 'api/config')).status, 200);
    } finally {
      await dash.close();
    }
    const guarded = await startDashboard({ redis: env.redis.url, token: TOKEN });
    try {
      const port = new URL(guarded.url).port;
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port, path: '/', headers: { Host: `proxy.example:${port}` } },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end();
      });
      assert.equal(status, 200, 'with a token any Host is answered (e.g. behind a proxy)');
    } finally {
      await guarded.close();
    }
  });

  test('read-only: mutating routes answer 403, reads work', async () => {
    const ro = await startDashboard({ redis: env.redis.url, readOnly: true });
    try {
      const config = await call(ro.url, 'api/config');
      assert.equal(config.body.readOnly, true);
      const pause = await call(ro.url, 'api/queues/media/pause', { method: 'POST', headers: MUTATE });
      assert.equal(pause.status, 403);
      assert.equal(pause.body.error?.code, 'ERR_READ_ONLY');
      const list = await call(ro.url, 'api/queues');
      assert.equal(list.status, 200);
    } finally {
      await ro.close();
    }
  });

  test('mounted under a base path in a node:http server, passing other paths on', async () => {
    const dashboard = createDashboard({ redis: env.redis.url, basePath: '/admin/tasks' });
    const server = createServer((req, res) =>
      dashboard(req, res, () => {
        res.statusCode = 200;
        res.end('app');
      }),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const other = await fetch(`${base}/elsewhere`);
      assert.equal(await other.text(), 'app');
      const redirect = await fetch(`${base}/admin/tasks`, { redirect: 'manual' });
      assert.equal(redirect.status, 308);
      assert.equal(redirect.headers.get('location'), '/admin/tasks/');
      const page = await fetch(`${base}/admin/tasks/`);
      assert.match(await page.text(), /<div id="app">/);
      const api = await call(`${base}/admin/tasks/`, 'api/queues');
      assert.equal(api.status, 200);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
      await dashboard.close();
    }
  });

  test('a request that outlives requestTimeout is answered 504 ERR_TIMEOUT', async () => {
    const dashboard = await startDashboard({ redis: env.redis.url, requestTimeout: 300 });
    try {
      assert.equal((await call(dashboard.url, 'api/queues')).status, 200); // connected
      await env.raw.call('CLIENT', 'PAUSE', '2000', 'ALL');
      const started = Date.now();
      const slow = await call(dashboard.url, 'api/queues');
      assert.equal(slow.status, 504);
      assert.equal(slow.body.error?.code, 'ERR_TIMEOUT');
      assert.ok(Date.now() - started < 1500, 'answered at the timeout, not when Redis came back');
    } finally {
      await env.raw.call('CLIENT', 'UNPAUSE');
      await dashboard.close();
    }
  });

  test('listening beyond loopback needs a token or insecure: true', async () => {
    await assert.rejects(startDashboard({ redis: env.redis.url, host: '0.0.0.0' }), (err: unknown) => {
      assert.ok(err instanceof InsecureDashboardError);
      assert.equal(err.code, 'ERR_DASHBOARD_INSECURE');
      return true;
    });
    const withToken = await startDashboard({ redis: env.redis.url, host: '0.0.0.0', token: TOKEN });
    await withToken.close();
    const insecure = await startDashboard({ redis: env.redis.url, host: '0.0.0.0', insecure: true });
    await insecure.close();
    assert.throws(() => createDashboard({ redis: env.redis.url, token: 'short' }), {
      code: 'ERR_INVALID_OPTION',
    });
    assert.throws(() => createDashboard({ redis: env.redis.url, basePath: 'no-slash' }), {
      code: 'ERR_INVALID_OPTION',
    });
  });
});

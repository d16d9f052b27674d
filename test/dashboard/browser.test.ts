/**
 * The dashboard end to end in a real browser (Chromium via playwright-core) on a private Redis with
 * tasks written by taskmill and by Go asynq: every page, the actions, token login, read-only mode,
 * CSRF from another origin, and markup in payloads and errors that must render as text. A
 * screenshot of every page goes to /tmp/dash-shots/<page>.png.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { type StartDashboardOptions, TaskNotFoundError, startDashboard } from '../../src/index.js';
import { SHOTS_DIR, launchBrowser } from '../helpers/browser.js';
import {
  type Seeded,
  XSS_ERROR,
  ensureDashboardBuilt,
  seedDashboard,
  stopSeeded,
} from '../helpers/dashboard.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();
const TOKEN = 'browser-token-5678';
let browser: Browser | undefined;

interface Ctx {
  page: Page;
  url: string;
  seeded: Seeded;
  /** Console errors and CSP violations the page reported. */
  problems: string[];
}

/** Seeds, starts a dashboard with `options`, opens a page, and cleans all up after `fn`. */
async function withDashboard(
  options: Omit<StartDashboardOptions, 'redis'>,
  fn: (ctx: Ctx) => Promise<void>,
): Promise<void> {
  let seeded: Seeded | undefined;
  const dash = await startDashboard({ redis: env.redis.url, sampleInterval: 500, ...options });
  const context = await browser!.newContext({ viewport: { width: 1400, height: 900 } });
  try {
    seeded = await seedDashboard(env);
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' && !/401|403|404|409/.test(m.text())) problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(String(e)));
    await fn({ page, url: dash.url, seeded, problems });
  } finally {
    await context.close();
    await dash.close();
    await stopSeeded(seeded);
  }
}

const shot = (page: Page, name: string) =>
  page.screenshot({ path: `${SHOTS_DIR}/${name}.png`, fullPage: true });

describe('dashboard in a browser', () => {
  before(async () => {
    ensureDashboardBuilt();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
  });

  test('every page shows the seeded state, Go asynq’s tasks included', () =>
    withDashboard({}, async ({ page, url, seeded, problems }) => {
      // Overview: three queues, charts drawn from live samples.
      await page.goto(url);
      const rows = page.locator('[data-testid="queues-table"] tbody tr');
      await waitFor(async () => (await rows.count()) === 3, { message: 'three queue rows' });
      assert.match((await page.locator('tr[data-queue="emails"]').textContent()) ?? '', /paused/);
      // A few samples (every 500 ms here), so the throughput line has points; then a fresh load.
      await waitFor(
        async () => {
          const res = await fetch(new URL('api/samples', url));
          return ((await res.json()) as { total: unknown[] }).total.length >= 4;
        },
        { message: 'four samples' },
      );
      await page.reload();
      await page.locator('[data-testid="chart-sizes"] canvas').waitFor();
      await page.locator('[data-testid="chart-throughput"] p.muted').waitFor({ state: 'detached' });
      await shot(page, 'queues');

      // A queue's pending tasks, paged.
      await page.goto(`${url}#/queues/emails?state=pending`);
      const taskRows = page.locator('[data-testid="tasks-table"] tbody tr');
      await waitFor(async () => (await taskRows.count()) === 20, { message: 'a first page of 20' });
      await page.click('[data-testid="next-page"]');
      await waitFor(async () => (await taskRows.count()) === 5, { message: 'a second page of 5' });
      assert.match((await page.textContent('.pager')) ?? '', /Page 2 of 2 · 25 tasks/);
      await page.goto(`${url}#/queues/emails?state=pending`);
      await waitFor(async () => (await taskRows.count()) === 20);
      await shot(page, 'queue');

      // Retry tab: the error shows as text.
      await page.goto(`${url}#/queues/emails?state=retry`);
      await page.locator(`tr[data-task="${seeded.retryId}"]`).waitFor();
      assert.match(
        (await page.locator(`tr[data-task="${seeded.retryId}"]`).textContent()) ?? '',
        /<img src=x/,
      );
      await shot(page, 'queue-retry');

      // Waiting tab: the dependent and the parent it waits for.
      await page.goto(`${url}#/queues/emails?state=waiting`);
      await page.locator(`tr[data-task="${seeded.waitingId}"]`).waitFor();
      assert.match(
        (await page.locator(`tr[data-task="${seeded.waitingId}"]`).textContent()) ?? '',
        new RegExp(`media/${seeded.parentId}`),
      );
      await shot(page, 'queue-waiting');

      // Aggregating tab with its group.
      await page.goto(`${url}#/queues/emails?state=aggregating&group=digest%3Aalice`);
      await waitFor(async () => (await taskRows.count()) === 3, { message: 'three grouped tasks' });
      await shot(page, 'queue-aggregating');

      // Go asynq's archived task: its error, and the explanation.
      await page.goto(`${url}#/queues/default/tasks/${seeded.goArchivedId}`);
      await page.locator('[data-testid="last-error"]').waitFor();
      assert.equal(await page.textContent('[data-testid="last-error"]'), seeded.goArchivedError);
      await page.locator('[data-testid="explanation"]').waitFor();
      assert.match((await page.textContent('[data-testid="explanation"]')) ?? '', /archived/i);
      await shot(page, 'task-go-archived');

      // Go's binary payload as a hex dump.
      await page.goto(`${url}#/queues/default/tasks/${seeded.goBinaryId}`);
      await page.locator('[data-testid="payload-text"]').waitFor();
      assert.match(
        (await page.textContent('[data-testid="payload-text"]')) ?? '',
        /00 ff 80 fe 22 5c 0d 0a 7f/,
      );
      await shot(page, 'task-binary');

      // A running task: progress, timeline, explanation naming the server.
      await page.goto(`${url}#/queues/media/tasks/${seeded.activeId}`);
      await page.locator('[data-testid="task-progress"]').waitFor();
      assert.match((await page.textContent('[data-testid="task-progress"]')) ?? '', /40% encoding 1080p/);
      await page.locator('[data-testid="explanation"]').waitFor();
      await shot(page, 'task');

      // A completed task with its result pretty printed.
      await page.goto(`${url}#/queues/media/tasks/${seeded.completedId}`);
      await page.locator('[data-testid="result-text"]').waitFor();
      assert.match(
        (await page.textContent('[data-testid="result-text"]')) ?? '',
        /"thumbnail": "s3:\/\/bucket\/42.png"/,
      );
      await shot(page, 'task-completed');

      // Servers and their workers.
      await page.goto(`${url}#/servers`);
      await page.locator('[data-testid="workers-table"]').waitFor();
      assert.match(
        (await page.textContent('[data-testid="workers-table"]')) ?? '',
        new RegExp(seeded.activeId),
      );
      await shot(page, 'servers');

      // Scheduler entries and an entry's history.
      await page.goto(`${url}#/scheduler`);
      await page.locator('[data-testid="entries-table"]').waitFor();
      assert.match((await page.textContent('[data-testid="entries-table"]')) ?? '', /@every 1s/);
      await page.click(`[data-testid="history-${seeded.entryId}"]`);
      // The entry fires every second; its history lists what it enqueued (polled every 3 s).
      await page.locator('[data-testid="events-table"] tbody tr').first().waitFor();
      await shot(page, 'scheduler');

      // Groups across queues.
      await page.goto(`${url}#/groups`);
      await page.locator('[data-testid="groups-table"]').waitFor();
      assert.match((await page.textContent('[data-testid="groups-table"]')) ?? '', /digest:alice/);
      await shot(page, 'groups');

      // Search by id from the top bar.
      await page.goto(url);
      await page.fill('[data-testid="search-input"]', seeded.completedId);
      await page.press('[data-testid="search-input"]', 'Enter');
      await page.locator('[data-testid="search-results"]').waitFor();
      assert.match((await page.textContent('[data-testid="search-results"]')) ?? '', /media/);
      await shot(page, 'search');

      assert.deepEqual(problems, []);
    }));

  test('actions from the page: run, archive, delete, bulk delete, pause', () =>
    withDashboard({}, async ({ page, url, seeded }) => {
      page.on('dialog', (d) => void d.accept());
      // Run Go's archived task.
      await page.goto(`${url}#/queues/default?state=archived`);
      await page.click(`[data-testid="run-${seeded.goArchivedId}"]`);
      await env.withInspector((i) =>
        waitFor(async () => (await i.getTaskInfo('default', seeded.goArchivedId)).state === 'pending', {
          message: 'run',
        }),
      );
      await page.locator(`tr[data-task="${seeded.goArchivedId}"]`).waitFor({ state: 'detached' });

      // Archive a scheduled task from its page, then delete it from the archive tab.
      await page.goto(`${url}#/queues/emails/tasks/${seeded.xssId}`);
      await page.click('[data-testid="task-archive"]');
      await env.withInspector((i) =>
        waitFor(async () => (await i.getTaskInfo('emails', seeded.xssId)).state === 'archived', {
          message: 'archive',
        }),
      );
      await page.goto(`${url}#/queues/emails?state=archived`);
      await page.click(`[data-testid="delete-${seeded.xssId}"]`);
      await env.withInspector((i) =>
        waitFor(
          () =>
            i.getTaskInfo('emails', seeded.xssId).then(
              () => false,
              (err: unknown) => err instanceof TaskNotFoundError,
            ),
          { message: 'delete' },
        ),
      );

      // Bulk: delete every pending task of emails.
      await page.goto(`${url}#/queues/emails?state=pending`);
      await page.locator('[data-testid="tasks-table"]').waitFor();
      await page.click('[data-testid="bulk-delete"]');
      await page.locator('[data-testid="no-tasks"]').waitFor();
      assert.equal((await env.withInspector((i) => i.getQueueInfo('emails'))).pending, 0);

      // Pause the default queue from the overview.
      await page.goto(url);
      await page.click('[data-testid="pause-default"]');
      await page.locator('[data-testid="unpause-default"]').waitFor();
      assert.equal((await env.withInspector((i) => i.getQueueInfo('default'))).paused, true);
      await shot(page, 'queues-after-actions');
    }));

  test('markup in a payload or an error renders as text and runs nothing', () =>
    withDashboard({}, async ({ page, url, seeded }) => {
      const violations: string[] = [];
      page.on('console', (m) => {
        if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
      });
      await page.goto(`${url}#/queues/emails/tasks/${seeded.xssId}`);
      await page.locator('[data-testid="payload-text"]').waitFor();
      const payload = (await page.textContent('[data-testid="payload-text"]')) ?? '';
      assert.match(payload, /<img src=x onerror=\\"window.__xss=1\\">/);
      assert.match(payload, /<script>window.__xss=2<\/script>/);
      await page.goto(`${url}#/queues/emails/tasks/${seeded.retryId}`);
      await page.locator('[data-testid="last-error"]').waitFor();
      assert.equal(await page.textContent('[data-testid="last-error"]'), XSS_ERROR);
      await shot(page, 'xss');
      await page.goto(`${url}#/queues/emails?state=scheduled`);
      await page.locator(`tr[data-task="${seeded.xssId}"]`).waitFor();
      await page.goto(`${url}#/queues/emails?state=retry`);
      await page.locator(`tr[data-task="${seeded.retryId}"]`).waitFor();
      // Nothing ran, no element came from the data, and nothing needed blocking.
      assert.equal(await page.evaluate('window.__xss'), undefined);
      assert.equal(await page.locator('img').count(), 0);
      assert.equal(await page.locator('main script').count(), 0);
      assert.deepEqual(violations, []);
    }));

  test('token: the page asks for it, keeps it for the tab, and takes ?token= once', () =>
    withDashboard({ token: TOKEN }, async ({ page, url }) => {
      await page.goto(url);
      await page.locator('[data-testid="login-form"]').waitFor();
      await shot(page, 'login');
      const status = await page.evaluate(async () => (await fetch('api/queues')).status);
      assert.equal(status, 401);
      await page.fill('input[name="token"]', 'not-the-token');
      await page.click('button[type="submit"]');
      await page.getByText('That token was not accepted.').waitFor();
      await page.fill('input[name="token"]', TOKEN);
      await page.click('button[type="submit"]');
      await page.locator('[data-testid="queues-table"]').waitFor();
      // A reload keeps the session.
      await page.reload();
      await page.locator('[data-testid="queues-table"]').waitFor();

      const second = await page.context().newPage();
      await second.goto(`${url}?token=${TOKEN}#/servers`);
      await second.locator('[data-testid="server-facts"]').waitFor();
      assert.doesNotMatch(second.url(), /token/, 'the token left the address bar');
      assert.equal(await second.evaluate("sessionStorage.getItem('taskmill-dashboard-token')"), TOKEN);
    }));

  test('read-only: no action buttons, and a forced change is refused', () =>
    withDashboard({ readOnly: true }, async ({ page, url, seeded }) => {
      await page.goto(`${url}#/queues/default?state=archived`);
      await page.locator(`tr[data-task="${seeded.goArchivedId}"]`).waitFor();
      await page.getByText('read-only').first().waitFor();
      assert.equal(
        await page.locator('[data-testid^="run-"], [data-testid^="bulk-"], [data-testid^="pause-"]').count(),
        0,
      );
      await page.goto(`${url}#/queues/default/tasks/${seeded.goArchivedId}`);
      await page.locator('[data-testid="task-facts"]').waitFor();
      assert.equal(
        await page.locator('[data-testid^="task-"] button, button[data-testid^="task-"]').count(),
        0,
      );
      await shot(page, 'read-only');
      const status = await page.evaluate(async (id) => {
        const res = await fetch(`api/queues/default/tasks/${id}/run`, {
          method: 'POST',
          headers: { 'X-Taskmill-Dashboard': '1' },
        });
        return res.status;
      }, seeded.goArchivedId);
      assert.equal(status, 403);
      assert.equal(
        (await env.withInspector((i) => i.getTaskInfo('default', seeded.goArchivedId))).state,
        'archived',
      );
    }));

  test('a page on another origin can neither post a form nor fetch a change (CSRF)', () =>
    withDashboard({}, async ({ page, url }) => {
      const target = `${url}api/queues/default/pause`;
      const evil = createServer((_req, res) => {
        res.setHeader('Content-Type', 'text/html');
        res.end(`<!doctype html><title>evil</title>
<form method="POST" action="${target}"><input name="a" value="1"></form>
<script>
fetch(${JSON.stringify(target)}, { method: 'POST', headers: { 'X-Taskmill-Dashboard': '1' } })
  .then((r) => { document.title = 'fetch ' + r.status; }, () => { document.title = 'fetch blocked'; })
  .finally(() => document.forms[0].submit());
</script>`);
      });
      await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
      try {
        const evilUrl = `http://127.0.0.1:${(evil.address() as AddressInfo).port}/`;
        await page.goto(evilUrl);
        await page.waitForURL(target);
        assert.match((await page.textContent('body')) ?? '', /ERR_CSRF/);
        assert.equal((await env.withInspector((i) => i.getQueueInfo('default'))).paused, false);
      } finally {
        await new Promise<void>((r) => evil.close(() => r()));
      }
    }));
});

/**
 * Playwright (playwright-core) driving the system's Chromium (Debian's `chromium` package; .ci/run
 * installs it when missing). `CHROMIUM_PATH` overrides where it is.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/** Where the browser tests save a screenshot of every page (outside the repository). */
export const SHOTS_DIR = '/tmp/dash-shots';

/** Finds the Chromium binary. @throws when none is installed */
export function chromiumPath(): string {
  const candidates = [process.env['CHROMIUM_PATH'], '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  const found = candidates.find((p): p is string => p !== undefined && p !== '' && existsSync(p));
  if (!found) throw new Error('no Chromium found: install the `chromium` package or set CHROMIUM_PATH');
  return found;
}

/** Launches a headless Chromium (no sandbox: CI runs as root). */
export async function launchBrowser(): Promise<Browser> {
  mkdirSync(SHOTS_DIR, { recursive: true });
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
    timeout: 60_000,
  });
}

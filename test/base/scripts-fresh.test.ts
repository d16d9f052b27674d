/**
 * The committed src/broker/scripts.generated.ts must be what scripts/build-lua.mjs renders from
 * src/broker/lua/*.lua; otherwise a Lua edit would silently not ship.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
// @ts-expect-error -- a plain .mjs build script without type declarations
import { renderScriptsModule } from '../../scripts/build-lua.mjs';

const generated = fileURLToPath(new URL('../../src/broker/scripts.generated.ts', import.meta.url));

test('scripts.generated.ts is up to date with src/broker/lua (run `npm run build:lua` if not)', () => {
  const rendered = (renderScriptsModule as () => string)();
  assert.equal(readFileSync(generated, 'utf8'), rendered);
});

test('every Lua script is exported with a key count taken from its KEYS header', async () => {
  const scripts = await import('../../src/broker/scripts.generated.js');
  const all = Object.values(scripts);
  const luaFiles = readdirSync(fileURLToPath(new URL('../../src/broker/lua', import.meta.url))).filter((f) =>
    f.endsWith('.lua'),
  );
  assert.equal(all.length, luaFiles.length, 'one export per .lua file');
  for (const script of all) {
    const headerKeys = [...script.source.matchAll(/^-- KEYS\[(\d+)\]/gm)].length;
    assert.equal(script.numberOfKeys, headerKeys, script.name);
    const used = [...script.source.matchAll(/KEYS\[(\d+)\]/g)].map((m) => Number(m[1]));
    assert.ok(Math.max(0, ...used) <= script.numberOfKeys, `${script.name} uses an undeclared key`);
  }
});

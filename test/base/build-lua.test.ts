/**
 * The Lua build's include step (scripts/build-lua.mjs, docs/lua.md): `--!include lib/<name>.lua`
 * is replaced by the library's text, nested includes expand, a library is included once per script,
 * and a missing file or a cycle fails the build with a message that names the chain.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
// @ts-expect-error -- a plain .mjs build script without type declarations
import { renderScriptsModule } from '../../scripts/build-lua.mjs';

const render = renderScriptsModule as (luaDir: string) => string;

/** Writes `files` (path relative to a fresh Lua folder -> text) and renders them. */
function build(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'taskmill-lua-'));
  try {
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    return render(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const script = (body: string) => `-- A script.\n--\n-- KEYS[1] -> a key\n-- ARGV[1] -> a value\n\n${body}`;
const NAMED = 'local key = KEYS[1]\nlocal value = ARGV[1]\n';

test('an include is replaced by the library text, nested includes too', () => {
  const out = build({
    'one.lua': script(`--!include lib/outer.lua\n${NAMED}return outer(key, value)\n`),
    'lib/outer.lua':
      '-- Outer.\n--!include lib/inner.lua\nlocal function outer(k, v) return inner(k) .. v end\n',
    'lib/inner.lua': '-- Inner.\nlocal function inner(k) return k end\n',
  });
  assert.match(out, /-- Outer\.\n-- Inner\.\nlocal function inner\(k\) return k end\nlocal function outer/);
  assert.doesNotMatch(out, /--!include/);
  assert.match(out, /defineScript\('one', 1, /);
});

test('a library two others include appears once in a script', () => {
  const out = build({
    'one.lua': script(`--!include lib/a.lua\n--!include lib/b.lua\n${NAMED}return 1\n`),
    'lib/a.lua': '-- A.\n--!include lib/shared.lua\n',
    'lib/b.lua': '-- B.\n--!include lib/shared.lua\n',
    'lib/shared.lua': '-- Shared.\nlocal SHARED = 1\n',
  });
  assert.equal(out.split('local SHARED = 1').length - 1, 1);
});

test('files in lib/ are not scripts themselves', () => {
  const out = build({
    'one.lua': script(`${NAMED}return 1\n`),
    'lib/helper.lua': '-- Helper.\nlocal x = 1\n',
  });
  assert.doesNotMatch(out, /helper/);
});

test('a missing include fails the build, naming the file and line', () => {
  assert.throws(
    () => build({ 'one.lua': script(`--!include lib/nowhere.lua\n${NAMED}return 1\n`) }),
    /one\.lua:6: --!include lib\/nowhere\.lua: no such file/,
  );
});

test('an include cycle fails the build, naming the chain', () => {
  assert.throws(
    () =>
      build({
        'one.lua': script(`--!include lib/a.lua\n${NAMED}return 1\n`),
        'lib/a.lua': '-- A.\n--!include lib/b.lua\n',
        'lib/b.lua': '-- B.\n--!include lib/a.lua\n',
      }),
    /include cycle one\.lua -> lib\/a\.lua -> lib\/b\.lua -> lib\/a\.lua/,
  );
});

test('an include outside lib/ and a library that reads KEYS fail the build', () => {
  assert.throws(
    () => build({ 'one.lua': script(`--!include ../x.lua\n${NAMED}return 1\n`) }),
    /names a lib\/<name>\.lua file/,
  );
  assert.throws(
    () =>
      build({
        'one.lua': script(`--!include lib/bad.lua\n${NAMED}return 1\n`),
        'lib/bad.lua': '-- Bad.\nlocal k = KEYS[1]\n',
      }),
    /lib\/bad\.lua: a library takes keys and arguments as function parameters/,
  );
});

test('scripts name their keys and arguments in locals that the header documents', () => {
  assert.throws(
    () => build({ 'one.lua': script('local key = KEYS[1]\nreturn ARGV[1]\n') }),
    /one\.lua:7: index/,
  );
  assert.throws(
    () => build({ 'one.lua': script('local key = KEYS[1]\nreturn 1\n') }),
    /ARGV\[1\] has no named local/,
  );
  assert.throws(
    () => build({ 'one.lua': script(`${NAMED}local other = ARGV[2]\nreturn 1\n`) }),
    /ARGV\[2\] is not in the header/,
  );
});

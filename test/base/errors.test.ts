/**
 * The error catalogue (src/errors.ts, docs/errors.md): every exported TaskmillError subclass has a
 * unique code, its class name as `name`, and a row in docs/errors.md; plus hasCause and coerceError.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as api from '../../src/index.js';
import {
  HandlerPanicError,
  InvalidPayloadError,
  RevokeTaskError,
  SkipRetryError,
  TaskmillError,
  coerceError,
  hasCause,
} from '../../src/errors.js';

type ErrorClass = new (...args: unknown[]) => TaskmillError;

/** Every class exported from the package entry point that extends TaskmillError. */
const errorClasses = (Object.entries(api) as [string, unknown][]).filter(
  (entry): entry is [string, ErrorClass] =>
    typeof entry[1] === 'function' && entry[1].prototype instanceof TaskmillError,
);

/** Builds an instance with placeholder arguments (every constructor takes strings, numbers or options). */
function instantiate(Class: ErrorClass): TaskmillError {
  return new Class('queue-or-message', 'second-argument');
}

const docs = readFileSync(fileURLToPath(new URL('../../docs/errors.md', import.meta.url)), 'utf8');
/** Table rows of docs/errors.md: class name → code column. */
const documented = new Map(
  [...docs.matchAll(/^\| `(\w+)` \| ([^|]+) \|/gm)].map((m) => [m[1] as string, (m[2] as string).trim()]),
);

describe('error catalogue', () => {
  test('the package exports the error classes (sanity check of the discovery)', () => {
    assert.ok(errorClasses.length >= 20, `found ${errorClasses.length}`);
    assert.ok(errorClasses.some(([name]) => name === 'SkipRetryError'));
  });

  test('the base class is exported', () => {
    assert.equal(api.TaskmillError, TaskmillError);
  });

  for (const [exportName, Class] of errorClasses) {
    test(`${exportName} has name ${exportName}, an ERR_ code and is an Error`, () => {
      const err = instantiate(Class);
      assert.equal(Class.name, exportName);
      assert.equal(err.name, exportName);
      assert.match(err.code, /^ERR_[A-Z_]+$/);
      assert.ok(err instanceof Error);
      assert.ok(err instanceof TaskmillError);
      assert.equal(typeof err.message, 'string');
      assert.notEqual(err.message, '');
    });

    test(`${exportName} is documented in docs/errors.md with its code`, () => {
      const err = instantiate(Class);
      assert.equal(documented.get(exportName), `\`${err.code}\``, `row for ${exportName}`);
    });
  }

  test('codes are unique across classes', () => {
    const byCode = new Map<string, string[]>();
    for (const [name, Class] of errorClasses) {
      const code = instantiate(Class).code;
      byCode.set(code, [...(byCode.get(code) ?? []), name]);
    }
    const shared = [...byCode].filter(([, names]) => names.length > 1);
    assert.deepEqual(shared, []);
  });

  test('docs/errors.md lists no class that the package does not export', () => {
    const exported = new Set(['TaskmillError', ...errorClasses.map(([name]) => name)]);
    const extra = [...documented.keys()].filter((name) => !exported.has(name));
    assert.deepEqual(extra, []);
  });

  test('a subclass keeps the cause it is given', () => {
    const cause = new Error('root');
    const err = new SkipRetryError('skip', { cause });
    assert.equal(err.cause, cause);
  });
});

describe('hasCause', () => {
  test('matches the error itself', () => {
    assert.equal(hasCause(new SkipRetryError(), SkipRetryError), true);
  });

  test('walks the cause chain at any depth', () => {
    const deep = new Error('outer', { cause: new Error('middle', { cause: new SkipRetryError() }) });
    assert.equal(hasCause(deep, SkipRetryError), true);
    assert.equal(hasCause(deep, RevokeTaskError), false);
  });

  test('matches through subclassing, like instanceof', () => {
    assert.equal(
      hasCause(new Error('x', { cause: new InvalidPayloadError('t', 'bad') }), TaskmillError),
      true,
    );
  });

  test('stops at a cause that is not an Error', () => {
    const err = new Error('outer', { cause: { cause: new SkipRetryError() } });
    assert.equal(hasCause(err, SkipRetryError), false);
  });

  test('terminates on a cyclic cause chain', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    assert.equal(hasCause(a, SkipRetryError), false);
  });

  test('non-errors never match', () => {
    for (const value of [undefined, null, 'SkipRetryError', 42, {}])
      assert.equal(hasCause(value, SkipRetryError), false);
  });
});

describe('coerceError', () => {
  test('returns an Error unchanged', () => {
    const err = new TypeError('x');
    assert.equal(coerceError(err), err);
  });

  const values: [string, unknown, RegExp][] = [
    ['a string', 'boom', /non-Error value: boom$/],
    ['a number', 42, /non-Error value: 42$/],
    ['an object', { code: 7 }, /non-Error value: \{"code":7\}$/],
    ['undefined', undefined, /non-Error value: undefined$/],
    ['null', null, /non-Error value: null$/],
  ];
  for (const [what, value, message] of values) {
    test(`turns ${what} into a HandlerPanicError that keeps the value`, () => {
      const err = coerceError(value);
      assert.ok(err instanceof HandlerPanicError);
      assert.equal(err.value, value);
      assert.equal(err.code, 'ERR_HANDLER_PANIC');
      assert.match(err.message, /^panic error cause by: /);
      assert.match(err.message, message);
    });
  }

  test('a value JSON cannot serialise still produces a message', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.match(coerceError(cyclic).message, /\[object Object\]$/);
    assert.match(coerceError(10n).message, /non-Error value: 10$/);
  });
});

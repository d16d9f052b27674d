/**
 * Turning validation failures into the one-line messages a ConfigError carries: `<source>:
 * <key path>: <what was expected>, got <value>`. Two sources of failures meet here: zod's issues
 * (the shape of the file) and the library's own InvalidOptionError / InvalidQueueNameError /
 * InvalidScheduleError (the rules of each option, checked by the same functions the API uses).
 */
import type * as z from 'zod';

/** A failure at a key path, before it is given its source. */
export interface ConfigIssue {
  path: readonly PropertyKey[];
  message: string;
}

/** `worker.queues.critical`, `scheduler.entries[0].spec`; `(root)` for the file itself. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][\w$]*$/.test(key)) out += out === '' ? key : `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out === '' ? '(root)' : out;
}

/** A received value in a message: JSON when it has a short one, else its type. */
export function describeReceived(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'function') return 'a function';
  try {
    const json = JSON.stringify(value);
    if (json === undefined) return `a ${typeof value}`;
    return json.length > 60 ? `${json.slice(0, 57)}...` : json;
  } catch {
    return `an unprintable ${typeof value}`;
  }
}

/** One zod issue as a ConfigIssue (unknown keys become one issue per key). */
export function fromZodIssue(issue: z.core.$ZodIssue): ConfigIssue[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ path: [...issue.path, key], message: 'unknown key' }));
  }
  if (issue.code === 'custom') return [{ path: issue.path, message: issue.message }];
  const input = (issue as { input?: unknown }).input;
  const got = input === undefined ? ', but it is missing' : `, got ${describeReceived(input)}`;
  return [{ path: issue.path, message: `${issue.message}${got}` }];
}

/**
 * One of the library's validation errors as a ConfigIssue under `base`. Their messages name the
 * option (``Expected `rate.limit` to be …``), which `keyPath` maps to its place in the file.
 */
export function fromValidationError(
  err: Error,
  base: readonly PropertyKey[],
  keyPath: (name: string) => readonly PropertyKey[] = (name) => name.split('.'),
): ConfigIssue {
  const match = /^Expected `([^`]+)` to be ([\s\S]*)$/.exec(err.message);
  if (match) {
    // describeValue's `3` (number) / `x` (string) read as the file does: 3 / "x".
    const what = (match[2] as string).replace(
      /, got `([\s\S]*)` \((\w+)\)$/,
      (_all, shown: string, type: string) => `, got ${type === 'string' ? JSON.stringify(shown) : shown}`,
    );
    return { path: [...base, ...keyPath(match[1] as string)], message: `expected ${what}` };
  }
  return { path: base, message: err.message };
}

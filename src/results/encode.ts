/**
 * How a handler's return value becomes the bytes stored as the task's result (asynq's `result`
 * field when the task is kept, and the outcome record's `result`): bytes as they are, a string as
 * UTF-8, anything else as JSON. `undefined` means "no result", so a handler that returns nothing
 * leaves whatever `ctx.writeResult` stored.
 */
import { HandlerResultError } from '../errors.js';

/**
 * The bytes to store for a handler's return value, or undefined for none.
 * @throws HandlerResultError when the value cannot be JSON-encoded (a BigInt, a cycle, a function)
 */
export function encodeHandlerResult(value: unknown): Uint8Array | undefined {
  if (value === undefined) return undefined;
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (err) {
    throw new HandlerResultError(err instanceof Error ? err.message : String(err), { cause: err });
  }
  // JSON.stringify returns undefined for a function or a Symbol: nothing a reader could decode.
  if (json === undefined) throw new HandlerResultError(`a ${typeof value} has no JSON form`);
  return Buffer.from(json, 'utf8');
}

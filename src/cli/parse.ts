/** Option value parsers shared by commands; a bad value is a usage error (exit 2). */
import { InvalidArgumentError } from 'commander';

/** A parser for an option that takes a positive integer. */
export function positiveInt(flag: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n <= 0) {
      throw new InvalidArgumentError(`${flag} expects a positive integer, got "${value}".`);
    }
    return n;
  };
}

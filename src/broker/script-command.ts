import { Command } from 'ioredis';

const DOLLAR = 0x24;
const STAR = 0x2a;
const CR = 0x0d;
const LF = 0x0a;

function decimalDigits(n: number): number {
  let digits = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    digits++;
  }
  return digits;
}

/** Writes `n` in decimal at `offset`; returns the offset after it. */
function writeDecimal(buf: Buffer, offset: number, n: number): number {
  const end = offset + decimalDigits(n);
  let at = end;
  do {
    buf[--at] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  } while (n > 0);
  return end;
}

/**
 * An ioredis command that serializes itself into one Buffer. ioredis's own serializer builds a
 * string (or a list of strings and Buffers) per argument before copying them out, which for our
 * script calls (tens to hundreds of arguments, binary task messages among them) was the largest
 * single source of allocation on the hot path. Overriding `toWritable` is how ioredis's own
 * Script command customizes its wire form; everything else (key prefixing, reply handling,
 * retries, cluster slot lookup from the arguments) stays ioredis's.
 */
export class PackedCommand extends Command {
  override toWritable(): Buffer {
    // After the constructor, every argument is a string or a Buffer (numbers were stringified).
    const args = this.args as (string | Buffer)[];
    const name = this.name;
    const lengths = new Array<number>(args.length);
    let size = 1 + decimalDigits(args.length + 1) + 2 + 1 + decimalDigits(name.length) + 2 + name.length + 2;
    for (let i = 0; i < args.length; i++) {
      const arg = args[i] as string | Buffer;
      const length = typeof arg === 'string' ? Buffer.byteLength(arg) : arg.length;
      lengths[i] = length;
      size += 1 + decimalDigits(length) + 2 + length + 2;
    }
    const buf = Buffer.allocUnsafe(size);
    buf[0] = STAR;
    let at = writeDecimal(buf, 1, args.length + 1);
    buf[at++] = CR;
    buf[at++] = LF;
    buf[at++] = DOLLAR;
    at = writeDecimal(buf, at, name.length);
    buf[at++] = CR;
    buf[at++] = LF;
    at += buf.write(name, at, 'latin1');
    buf[at++] = CR;
    buf[at++] = LF;
    for (let i = 0; i < args.length; i++) {
      const arg = args[i] as string | Buffer;
      const length = lengths[i] as number;
      buf[at++] = DOLLAR;
      at = writeDecimal(buf, at, length);
      buf[at++] = CR;
      buf[at++] = LF;
      if (typeof arg === 'string') at += buf.write(arg, at, length, 'utf8');
      else at += arg.copy(buf, at);
      buf[at++] = CR;
      buf[at++] = LF;
    }
    return buf;
  }
}

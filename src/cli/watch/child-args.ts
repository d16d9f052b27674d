/**
 * The command line of the worker child: the supervisor's own, without the watch options, so that
 * every other flag (and those other commands add later) reaches the child unchanged.
 */

const WATCH_FLAG = '--watch';
const WATCH_PATH_FLAG = '--watch-path';

/** `args` (process.argv after the script) without `--watch` and `--watch-path <path>`. */
export function childArgs(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') {
      // Everything after `--` is an operand, never an option.
      out.push(...args.slice(i));
      break;
    }
    if (arg === WATCH_FLAG || arg.startsWith(`${WATCH_PATH_FLAG}=`)) continue;
    if (arg === WATCH_PATH_FLAG) {
      i++;
      continue;
    }
    out.push(arg);
  }
  return out;
}

/**
 * A progress bar for long bulk operations, drawn on stderr only when it is a terminal (pipes and
 * scripts see just the final count on stdout).
 */
import { SingleBar } from 'cli-progress';
import type { BulkProgress } from '../inspector/index.js';

/** A bulk operation's progress listener and the call that clears the bar at the end. */
export interface ProgressReporter {
  onProgress: ((progress: BulkProgress) => void) | undefined;
  stop(): void;
}

/** A reporter drawing `label` with a bar on a TTY stderr; a no-op otherwise. */
export function progressReporter(
  label: string,
  stream: NodeJS.WriteStream = process.stderr,
): ProgressReporter {
  if (!stream.isTTY) return { onProgress: undefined, stop: () => {} };
  let bar: SingleBar | undefined;
  return {
    onProgress: ({ done, total }) => {
      if (!bar) {
        bar = new SingleBar({
          format: `${label} [{bar}] {value}/{total} ({percentage}%)`,
          stream,
          hideCursor: true,
          clearOnComplete: true,
        });
        bar.start(total, done);
      } else {
        bar.setTotal(total);
        bar.update(done);
      }
    },
    stop: () => bar?.stop(),
  };
}

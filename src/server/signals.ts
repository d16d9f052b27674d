/**
 * Resolves when the process receives SIGTERM or SIGINT (with the signal), or when `until`
 * resolves (with undefined); SIGTSTP calls `onStop` (stop fetching,
 * as asynq does). The handlers are removed once it resolves, so a second Ctrl-C falls back to
 * Node's default and kills the process.
 */
export function waitForTermination(
  onStop: () => void,
  until?: Promise<void>,
): Promise<NodeJS.Signals | undefined> {
  return new Promise((resolve) => {
    const finish = (signal: NodeJS.Signals | undefined) => {
      process.off('SIGTERM', finish);
      process.off('SIGINT', finish);
      process.off('SIGTSTP', onStop);
      resolve(signal);
    };
    process.on('SIGTERM', finish);
    process.on('SIGINT', finish);
    process.on('SIGTSTP', onStop);
    // The wait can also end without a signal (a burst-mode server that has drained its queues).
    void until?.then(() => finish(undefined));
  });
}

/**
 * Resolves when the process receives SIGTERM or SIGINT; SIGTSTP calls `onStop` (stop fetching,
 * as asynq does). The handlers are removed once it resolves, so a second Ctrl-C falls back to
 * Node's default and kills the process.
 */
export function waitForTermination(onStop: () => void): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const finish = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', finish);
      process.off('SIGINT', finish);
      process.off('SIGTSTP', onStop);
      resolve(signal);
    };
    process.on('SIGTERM', finish);
    process.on('SIGINT', finish);
    process.on('SIGTSTP', onStop);
  });
}

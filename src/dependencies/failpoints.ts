/**
 * Failpoints between the steps of a dependency that spans hash slots, for the crash tests: a test
 * fixture installs a hook that reports the step and blocks, and the test kills the process there.
 * Not exported from the package; production code pays one undefined check per step.
 */

/** The points between steps: after registering with one parent queue, before creating the dependent, after a resolution and before its outbox entry is removed. */
export type DependencyStep = 'registered' | 'before-create' | 'resolved';

type Hook = (step: DependencyStep, detail: string) => Promise<void> | void;

let hook: Hook | undefined;

/** Installs (or, with undefined, removes) the hook called at every step. */
export function setDependencyFailpoint(fn: Hook | undefined): void {
  hook = fn;
}

/** Runs the hook, if any, at `step`. */
export async function failpoint(step: DependencyStep, detail: string): Promise<void> {
  if (hook) await hook(step, detail);
}

/** `defineConfig`, kept apart from the loader so that importing the package loads no validator. */
import type { TaskmillConfig } from './types.js';

/**
 * Typing help for `taskmill.config.ts` / `.mjs` / `.js`: returns its argument.
 * @example
 * import { defineConfig } from 'taskmill';
 * export default defineConfig({ worker: { module: './handlers.js', concurrency: 20 } });
 */
export function defineConfig(config: TaskmillConfig): TaskmillConfig {
  return config;
}

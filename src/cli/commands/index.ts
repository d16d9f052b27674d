/**
 * Every command group of the CLI. One import and one call per line, so that groups added in
 * parallel merge without conflicts.
 */
import type { Command } from 'commander';
import { register as registerQueue } from './queue.js';
import { register as registerWhy } from './why.js';
import { register as registerDash } from './dash.js';
import { register as registerTask } from './task.js';
import { register as registerServer } from './server.js';
import { register as registerHealth } from './health.js';
import { register as registerCron } from './cron.js';
import { register as registerGroup } from './group.js';
import { register as registerWorker } from './worker.js';
import { register as registerStats } from './stats.js';
import { register as registerScheduler } from './scheduler.js';

/** Registers every command group on `program`. */
export function registerCommands(program: Command): void {
  registerQueue(program);
  registerWhy(program);
  registerDash(program);
  registerTask(program);
  registerServer(program);
  registerHealth(program);
  registerCron(program);
  registerGroup(program);
  registerWorker(program);
  registerStats(program);
  registerScheduler(program);
}

#!/usr/bin/env node
/** The `taskmill` executable (the package's `bin`). See docs/cli.md. */
import { runCli } from './program.js';

// exitCode rather than process.exit(): stdout is flushed before the process ends.
process.exitCode = await runCli(process.argv);

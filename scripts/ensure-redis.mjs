// Makes sure a `redis-server` binary is available, for the demo and the tests (which start their
// own private servers). On Debian/Ubuntu it installs the `redis-server` package with apt-get (as
// root, or through passwordless sudo); elsewhere it explains what to install and exits 1.
import { execFileSync, spawnSync } from 'node:child_process';

function has(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

if (has('redis-server')) process.exit(0);

const help =
  'taskmill needs the redis-server binary (Redis >= 6.2) for its demo and tests.\n' +
  '  Debian/Ubuntu: sudo apt-get install -y redis-server\n' +
  '  macOS:         brew install redis\n' +
  'Or point the demo at an existing server: REDIS_URL=redis://host:6379 npm run demo';

if (!has('apt-get')) {
  console.error(help);
  process.exit(1);
}
const root = typeof process.getuid === 'function' && process.getuid() === 0;
const prefix = root ? [] : has('sudo') ? ['sudo', '-n'] : null;
if (prefix === null) {
  console.error(help);
  process.exit(1);
}
console.error('redis-server not found: installing the Debian package redis-server ...');
try {
  const run = (args) =>
    execFileSync(prefix[0] ?? args[0], [...prefix.slice(1), ...(prefix.length ? args : args.slice(1))], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  run(['apt-get', 'update', '-qq']);
  run(['apt-get', 'install', '-y', '-qq', 'redis-server']);
} catch (err) {
  console.error(
    `Installing redis-server failed: ${err instanceof Error ? err.message : String(err)}\n${help}`,
  );
  process.exit(1);
}
if (!has('redis-server')) {
  console.error(help);
  process.exit(1);
}

export {
  type StartRedisOptions,
  type TestRedis,
  freePort,
  spawnRedisServer,
  startRedis,
} from '../../support/redis-server.js';

export { type StartRedisOptions, type TestRedis, freePort, startRedis } from '../../support/redis-server.js';

/**
 * The `redis-cluster://` URL form: seed nodes of a Redis Cluster in one string, for places that
 * take a URL (the CLI's `--redis`, `REDIS_URL`). `rediss-cluster://` connects to every node with
 * TLS. Credentials apply to every node, as they do in a Cluster (one password, or one ACL user).
 *
 *     redis-cluster://[user:password@]host:port[,host:port...]
 */
import type { ClusterNode, ClusterOptions } from 'ioredis';
import { InvalidOptionError } from '../errors.js';

/** The prefix every Cluster URL starts with (`rediss-cluster://` as well). */
export const CLUSTER_URL_SCHEME = /^rediss?-cluster:\/\//i;

/** Whether `url` is a Cluster URL. */
export function isClusterUrl(url: string): boolean {
  return CLUSTER_URL_SCHEME.test(url);
}

/** A node `host:port`; an IPv6 host goes in brackets (`[::1]:7000`). */
const NODE = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]/?#@,]+)):(\d{1,5})$/;

/**
 * Splits a Cluster URL into seed nodes and the ioredis options it implies (credentials, TLS).
 * @throws {@link InvalidOptionError} when it names no node, a node without a valid port, or has a
 * path or query (a Cluster has only database 0).
 */
export function parseClusterUrl(url: string): { nodes: ClusterNode[]; options: ClusterOptions } {
  const scheme = CLUSTER_URL_SCHEME.exec(url);
  if (!scheme) throw invalid(url, 'it must start with redis-cluster:// or rediss-cluster://');
  let rest = url.slice(scheme[0].length);
  const at = rest.lastIndexOf('@');
  let username: string | undefined;
  let password: string | undefined;
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = userinfo.indexOf(':');
    const user = decode(url, colon >= 0 ? userinfo.slice(0, colon) : userinfo);
    if (user !== '') username = user;
    if (colon >= 0) password = decode(url, userinfo.slice(colon + 1));
  }
  // A trailing slash is harmless; a database, path or query is not something a Cluster has.
  if (rest.endsWith('/')) rest = rest.slice(0, -1);
  if (/[/?#]/.test(rest)) throw invalid(url, 'a Cluster has only database 0 and takes no path or query');
  const nodes = rest.split(',').map((part) => {
    const m = NODE.exec(part.trim());
    const port = m ? Number(m[3]) : 0;
    if (!m || port < 1 || port > 65535) throw invalid(url, `"${part}" is not host:port`);
    return { host: m[1] ?? m[2] ?? '', port };
  });
  const tls = scheme[0].toLowerCase().startsWith('rediss');
  return {
    nodes,
    options: {
      redisOptions: {
        ...(username !== undefined ? { username } : {}),
        ...(password !== undefined ? { password } : {}),
        ...(tls ? { tls: {} } : {}),
      },
    },
  };
}

function decode(url: string, text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw invalid(url, 'its credentials are not valid percent-encoding');
  }
}

/** The error for a malformed URL; the URL is shown without its credentials. */
function invalid(url: string, reason: string): InvalidOptionError {
  const shown = url.replace(/\/\/[^@/]*@/, '//(credentials)@');
  return new InvalidOptionError(`Invalid Redis Cluster URL ${JSON.stringify(shown)}: ${reason}`);
}

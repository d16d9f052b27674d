/**
 * Serves the built front end (Vite's output, `dist/dashboard/app/`). Only files inside that folder
 * are served, from a list made once at first use; any other path gets the page itself, so the
 * page's own routes (after `#`) and reloads work.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpError } from './http.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * Where the built files are: next to this module once compiled (dist/dashboard/app), or, when
 * this module runs from the sources (tests, tsx), in the package's dist folder.
 */
export function appDir(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const candidates = [join(here, 'app'), join(here, '..', '..', 'dist', 'dashboard', 'app')];
  return candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? (candidates[0] as string);
}

interface StaticFile {
  body: Buffer;
  type: string;
  /** Vite's hashed asset names never change content: cache them for good. */
  immutable: boolean;
}

function listFiles(root: string, dir = root, out = new Map<string, StaticFile>()): Map<string, StaticFile> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) listFiles(root, path, out);
    else {
      const rel = relative(root, path).split(sep).join('/');
      out.set(rel, {
        body: readFileSync(path),
        type: TYPES[extname(name)] ?? 'application/octet-stream',
        immutable: rel.startsWith('assets/'),
      });
    }
  }
  return out;
}

/** Serves the front end's files from memory (a few hundred KiB). */
export class StaticFiles {
  #files: Map<string, StaticFile> | undefined;

  constructor(private readonly root: string = appDir()) {}

  #load(): Map<string, StaticFile> {
    if (!this.#files) {
      if (!existsSync(join(this.root, 'index.html')))
        throw new HttpError(
          500,
          'ERR_DASHBOARD_NOT_BUILT',
          'the dashboard front end is not built (run `npm run build`)',
        );
      this.#files = listFiles(this.root);
    }
    return this.#files;
  }

  /** Answers `path` (relative to the base path, no leading '/'). */
  serve(path: string, res: ServerResponse, head: boolean): void {
    const files = this.#load();
    const file = files.get(path) ?? (path.startsWith('assets/') ? undefined : files.get('index.html'));
    if (!file) throw new HttpError(404, 'ERR_NOT_FOUND', 'no such file');
    res.statusCode = 200;
    res.setHeader('Content-Type', file.type);
    res.setHeader('Content-Length', file.body.length);
    res.setHeader('Cache-Control', file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    res.end(head ? undefined : file.body);
  }
}

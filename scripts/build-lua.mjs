// Compiles src/broker/lua/*.lua into src/broker/scripts.generated.ts (committed), so that tsc needs
// no pre-step and nothing is read from disk at run time. `--check` exits 1 when the committed file is
// stale; the scripts-freshness test calls renderScriptsModule() directly.
//
// A line `--!include lib/<name>.lua` is replaced by that file's text (see docs/lua.md): blocks that
// several scripts share are written once under src/broker/lua/lib/, which holds no scripts itself.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const defaultLuaDir = join(root, 'src/broker/lua');
const outFile = join(root, 'src/broker/scripts.generated.ts');

const INCLUDE = /^--!include\s+(\S*)\s*$/;
/** What an include may name: a .lua file under lib/, without `..` (libraries stay in one folder). */
const INCLUDE_TARGET = /^lib\/(?:[\w-]+\/)*[\w-]+\.lua$/;
/** A header line that documents one numbered key or argument. */
const HEADER_ENTRY = /^-- (KEYS|ARGV)\[(\d+)\] ->/gm;
/** The only code line allowed to index KEYS or ARGV with a number: a named local at the top. */
const NAMED_LOCAL = /^local \w+ = (?:tonumber\()?(KEYS|ARGV)\[(\d+)\]\)?$/;

function camel(name) {
  return name.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
}

/** The lines of Lua code (not comments), with their 1-based line numbers. */
function codeLines(source) {
  return source
    .split('\n')
    .map((text, i) => ({ text: text.trim(), line: i + 1 }))
    .filter(({ text }) => text !== '' && !text.startsWith('--'));
}

/**
 * Checks the header/locals convention of a script and returns its key count: the header lists
 * KEYS[1..n] and ARGV[1..m] without gaps, each has exactly one named local, and code indexes KEYS
 * and ARGV with a number only in those locals (variable indexes, e.g. ARGV[i] over a tail of
 * per-task arguments, are fine).
 */
function checkConventions(file, source) {
  const documented = { KEYS: [], ARGV: [] };
  for (const m of source.matchAll(HEADER_ENTRY)) documented[m[1]].push(Number(m[2]));
  const named = { KEYS: new Set(), ARGV: new Set() };
  for (const { text, line } of codeLines(source)) {
    const local = NAMED_LOCAL.exec(text);
    if (local) {
      const [, table, n] = local;
      if (named[table].has(Number(n))) throw new Error(`${file}:${line}: a second local for ${table}[${n}]`);
      named[table].add(Number(n));
    } else if (/\b(KEYS|ARGV)\[\d+\]/.test(text)) {
      throw new Error(`${file}:${line}: index KEYS/ARGV by number only in a named local at the top`);
    }
  }
  for (const table of ['KEYS', 'ARGV']) {
    documented[table].forEach((n, i) => {
      if (n !== i + 1) throw new Error(`${file}: ${table} header lines must be numbered 1..n`);
      if (!named[table].has(n)) throw new Error(`${file}: ${table}[${n}] has no named local`);
    });
    for (const n of named[table]) {
      if (!documented[table].includes(n)) throw new Error(`${file}: ${table}[${n}] is not in the header`);
    }
  }
  return documented.KEYS.length;
}

/**
 * Returns `file`'s text (relative to `luaDir`) with every include directive replaced by the
 * included file's text, recursively. A file already included in this script is not included again
 * (a library two others use appears once); an include of a file that is still being expanded is a
 * cycle and fails, as does an include of a missing file.
 */
export function expandIncludes(luaDir, file, included = new Set(), chain = []) {
  const path = join(luaDir, file);
  const source = readFileSync(path, 'utf8');
  const lines = source.split('\n');
  const out = [];
  chain = [...chain, file];
  included.add(file);
  lines.forEach((text, i) => {
    const m = INCLUDE.exec(text);
    if (!m) {
      if (text.startsWith('--!')) throw new Error(`${file}:${i + 1}: unknown directive: ${text}`);
      out.push(text);
      return;
    }
    const target = m[1];
    const where = `${file}:${i + 1}: --!include ${target}`;
    if (!INCLUDE_TARGET.test(target)) throw new Error(`${where}: an include names a lib/<name>.lua file`);
    if (chain.includes(target)) throw new Error(`${where}: include cycle ${[...chain, target].join(' -> ')}`);
    if (!existsSync(join(luaDir, target))) throw new Error(`${where}: no such file in src/broker/lua`);
    if (included.has(target)) return;
    const library = readFileSync(join(luaDir, target), 'utf8');
    if (!library.startsWith('-- ')) throw new Error(`${target}: must start with a header comment`);
    if (
      codeLines(library).some(({ text: code }) => /\b(KEYS|ARGV)\b/.test(code)) ||
      /^-- (KEYS|ARGV)\[/m.test(library)
    )
      throw new Error(`${target}: a library takes keys and arguments as function parameters, not KEYS/ARGV`);
    out.push(expandIncludes(luaDir, target, included, chain).replace(/\n$/, ''));
  });
  return out.join('\n');
}

/** Renders the generated module's text from the .lua files in `luaDir` (lib/ holds no scripts). */
export function renderScriptsModule(luaDir = defaultLuaDir) {
  const files = readdirSync(luaDir)
    .filter((f) => f.endsWith('.lua'))
    .sort();
  const lines = [
    '// GENERATED by scripts/build-lua.mjs from src/broker/lua/*.lua. DO NOT EDIT.',
    "import { defineScript } from './script.js';",
    '',
  ];
  for (const file of files) {
    const name = file.slice(0, -'.lua'.length);
    const own = readFileSync(join(luaDir, file), 'utf8');
    if (!own.startsWith('-- ')) throw new Error(`${file}: must start with a header comment`);
    const keyCount = checkConventions(file, own);
    const source = expandIncludes(luaDir, file);
    if (source.includes('`') || source.includes('${')) throw new Error(`${file}: backticks are not allowed`);
    lines.push(
      `export const ${camel(name)} = defineScript('${name}', ${keyCount}, String.raw\`${source}\`);`,
      '',
    );
  }
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = renderScriptsModule();
  if (process.argv.includes('--check')) {
    if (readFileSync(outFile, 'utf8') !== text) {
      console.error('src/broker/scripts.generated.ts is stale: run `npm run build:lua`');
      process.exit(1);
    }
  } else {
    writeFileSync(outFile, text);
    console.log(`wrote ${outFile}`);
  }
}

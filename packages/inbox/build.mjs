// Bundles the inbox with esbuild into dist/: index.html, assets/app-<hash>.js and .css (content
// hashed, so they are cached for good), and a brotli copy of each for clients that accept it.
// Used by `npm run build` and, when dist/ is missing or stale, by the tests.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { brotliCompressSync, constants } from 'node:zlib';

const here = path.dirname(fileURLToPath(import.meta.url));
export const distDir = path.join(here, 'dist');

const hash = (bytes) =>
  createHash('sha256').update(bytes).digest('base64url').replace(/[-_]/g, '').slice(0, 10);
const brotli = (bytes) => brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } });

/** Builds the inbox; writes it to `outdir` when given. Returns the files by their path in dist. */
export async function buildInbox({ outdir } = {}) {
  const esbuild = await import('esbuild');
  const common = {
    bundle: true,
    minify: true,
    write: false,
    target: 'es2020',
    legalComments: 'none',
    logLevel: 'silent',
    // The protocol's sources: the inbox needs no build of it first.
    alias: { '@charla/protocol': path.join(here, '../protocol/src/index.ts') },
  };
  const [js, css] = await Promise.all([
    esbuild.build({
      ...common,
      format: 'iife',
      entryPoints: [path.join(here, 'src/main.ts')],
      outfile: 'app.js',
    }),
    esbuild.build({ ...common, entryPoints: [path.join(here, 'src/app.css')], outfile: 'app.css' }),
  ]);
  const jsBytes = Buffer.from(js.outputFiles[0].contents);
  const cssBytes = Buffer.from(css.outputFiles[0].contents);
  const jsName = `app-${hash(jsBytes)}.js`;
  const cssName = `app-${hash(cssBytes)}.css`;
  const html = readFileSync(path.join(here, 'src/index.html'), 'utf8')
    .replace('%CSS%', `/inbox/assets/${cssName}`)
    .replace('%JS%', `/inbox/assets/${jsName}`);
  const files = {
    'index.html': Buffer.from(html),
    [`assets/${jsName}`]: jsBytes,
    [`assets/${cssName}`]: cssBytes,
  };
  for (const [name, bytes] of Object.entries(files)) files[`${name}.br`] = brotli(bytes);
  if (outdir) {
    // Each file is written aside and renamed into place: a server reading dist/ meanwhile sees
    // whole files only, and several builds at once (parallel test files) do not conflict.
    mkdirSync(path.join(outdir, 'assets'), { recursive: true });
    const tmp = `.tmp-${process.pid}-${Date.now()}`;
    const ordered = Object.keys(files).sort(
      (a, b) => Number(a.startsWith('index')) - Number(b.startsWith('index')),
    );
    for (const name of ordered) {
      const target = path.join(outdir, name);
      writeFileSync(target + tmp, files[name]);
      renameSync(target + tmp, target);
    }
  }
  return { files, js: jsName, css: cssName };
}

/** Whether dist/ is missing or older than a source file. */
export function inboxStale(outdir = distDir) {
  let built;
  try {
    built = statSync(path.join(outdir, 'index.html')).mtimeMs;
  } catch {
    return true;
  }
  const newest = (dir) =>
    Math.max(
      ...readdirSync(dir, { withFileTypes: true }).map((e) =>
        e.isDirectory() ? newest(path.join(dir, e.name)) : statSync(path.join(dir, e.name)).mtimeMs,
      ),
    );
  return Math.max(newest(path.join(here, 'src')), statSync(fileURLToPath(import.meta.url)).mtimeMs) > built;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { files } = await buildInbox({ outdir: distDir });
  // Earlier builds' assets: only the current ones are referenced.
  for (const name of readdirSync(path.join(distDir, 'assets'))) {
    if (!(`assets/${name}` in files)) rmSync(path.join(distDir, 'assets', name));
  }
  const size = (n) => files[n].length;
  const assets = Object.keys(files).filter((n) => n.startsWith('assets/') && !n.endsWith('.br'));
  const br = assets.reduce((s, n) => s + size(`${n}.br`), 0);
  console.log(`inbox: ${assets.map((n) => `${n} ${size(n)} B`).join(', ')}; JS+CSS brotli ${br} B`);
}

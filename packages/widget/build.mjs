// Bundles the widget with esbuild: dist/loader.js (the snippet's script), dist/app.js and
// dist/app.css (loaded on first interaction), dist/triggers.js (only for channels with proactive
// triggers). The loader embeds a hash of the app's files, so the
// app can be cached for a year under `?v=<hash>` while the loader itself stays short-cached.
// Used by `npm run build` (writes dist/) and by the server in development (in memory).
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Builds the three files; writes them to `outdir` when given. */
export async function buildWidget({ outdir } = {}) {
  const esbuild = await import('esbuild');
  const common = {
    bundle: true,
    minify: true,
    write: false,
    target: 'es2020',
    format: 'iife',
    legalComments: 'none',
    logLevel: 'silent',
    // The protocol's sources: the widget needs no build of it first.
    alias: { '@charla/protocol': path.join(here, '../protocol/src/index.ts') },
  };
  const [app, css, triggers] = await Promise.all([
    esbuild.build({ ...common, entryPoints: [path.join(here, 'src/app/index.ts')], outfile: 'app.js' }),
    esbuild.build({ ...common, entryPoints: [path.join(here, 'src/app.css')], outfile: 'app.css' }),
    esbuild.build({ ...common, entryPoints: [path.join(here, 'src/triggers.ts')], outfile: 'triggers.js' }),
  ]);
  const appJs = Buffer.from(app.outputFiles[0].contents);
  const appCss = Buffer.from(css.outputFiles[0].contents);
  const triggersJs = Buffer.from(triggers.outputFiles[0].contents);
  const version = createHash('sha256')
    .update(appJs)
    .update(appCss)
    .update(triggersJs)
    .digest('base64url')
    .slice(0, 12);
  const loader = await esbuild.build({
    ...common,
    entryPoints: [path.join(here, 'src/loader.ts')],
    outfile: 'loader.js',
    define: { __APP_VERSION__: JSON.stringify(version) },
  });
  const files = {
    'loader.js': Buffer.from(loader.outputFiles[0].contents),
    'app.js': appJs,
    'app.css': appCss,
    'triggers.js': triggersJs,
  };
  if (outdir) {
    mkdirSync(outdir, { recursive: true });
    for (const [name, bytes] of Object.entries(files)) writeFileSync(path.join(outdir, name), bytes);
    writeFileSync(path.join(outdir, 'version.json'), `${JSON.stringify({ version })}\n`);
  }
  return { version, files };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { version, files } = await buildWidget({ outdir: path.join(here, 'dist') });
  for (const [name, bytes] of Object.entries(files)) console.log(`widget ${name}: ${bytes.length} bytes`);
  console.log(`widget version ${version}`);
}

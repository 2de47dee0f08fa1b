/**
 * The widget's weight budget, and how fast its launcher appears.
 *
 *   npm run size                      build the widget, print its sizes, exit 1 over budget (CI)
 *   npm run bench:widget-size         the same, then the time to launcher on the demo page
 *   DATABASE_URL=postgres://… npm run bench:widget-size   a throwaway database on that server
 *
 * Budgets (brotli, quality 11): the loader ≤ 2 KiB; everything a first open loads (loader, app.js,
 * app.css, and triggers.js for channels with proactive triggers) ≤ 20 KiB.
 *
 * Time to launcher: Chromium (/usr/bin/chromium) opens `/demo` in fresh contexts; the loader marks
 * `charla:launcher` (performance.mark) once the launcher is in the page; the report gives that
 * mark's time since navigation start, and the time from a click on the launcher to the message box.
 * Env: BENCH_RUNS (page loads, default 10).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { envNumber, kib, percentile, printTable, withBenchDatabase } from './support.js';

const LOADER_BUDGET = 2 * 1024;
const FIRST_OPEN_BUDGET = 20 * 1024;
const CHROMIUM = '/usr/bin/chromium';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { buildWidget } = (await import(pathToFileURL(path.join(root, 'packages/widget/build.mjs')).href)) as {
  buildWidget(o?: { outdir?: string }): Promise<{ version: string; files: Record<string, Buffer> }>;
};

const br = (b: Buffer) => brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;

async function sizes(): Promise<boolean> {
  const { files } = await buildWidget();
  const rows = [['file', 'raw', 'gzip', 'brotli']];
  const brotli: Record<string, number> = {};
  for (const [name, bytes] of Object.entries(files)) {
    brotli[name] = br(bytes);
    rows.push([
      name,
      String(bytes.length),
      String(gzipSync(bytes, { level: 9 }).length),
      String(brotli[name]),
    ]);
  }
  const firstOpen = ['loader.js', 'app.js', 'app.css', 'triggers.js'].reduce(
    (n, f) => n + (brotli[f] ?? 0),
    0,
  );
  rows.push(['first open (all of the above)', '', '', String(firstOpen)]);
  printTable(rows);
  const problems: string[] = [];
  const loader = brotli['loader.js'] ?? 0;
  if (loader > LOADER_BUDGET)
    problems.push(`loader.js is ${loader} B brotli, over its ${LOADER_BUDGET} B budget`);
  if (firstOpen > FIRST_OPEN_BUDGET)
    problems.push(`a first open loads ${firstOpen} B brotli, over its ${FIRST_OPEN_BUDGET} B budget`);
  console.log(
    `\nBudgets: loader ${loader} / ${LOADER_BUDGET} B (${kib(loader)} KiB), first open ${firstOpen} / ${FIRST_OPEN_BUDGET} B (${kib(firstOpen)} KiB)`,
  );
  for (const p of problems) console.error(`OVER BUDGET: ${p}`);
  return problems.length === 0;
}

async function timeToLauncher(): Promise<void> {
  if (!existsSync(CHROMIUM)) {
    console.log(`\nTime to launcher: skipped, ${CHROMIUM} is missing (apt-get install -y chromium).`);
    return;
  }
  const runs = envNumber('BENCH_RUNS', 10);
  const { chromium } = await import('playwright-core');
  await withBenchDatabase({ embedded: 'parent' }, async (bench) => {
    const { loadConfig } = await import('../packages/server/src/config.js');
    const { startCharla } = await import('../packages/server/src/server.js');
    const { createLocation } = await import('../packages/server/src/core/locations/service.js');
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'charla-bench-data-'));
    const config = loadConfig({
      DATA_DIR: dataDir,
      DATABASE_URL: bench.databaseUrl,
      LOG_LEVEL: 'warn',
      CHARLA_SECRET: 'bench-secret-bench-secret-bench-secret-0123',
      HOST: '127.0.0.1',
      PORT: '0',
    });
    const charla = await startCharla(config, { bootstrap: false });
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    try {
      await createLocation(charla.ctx.db, { name: 'Bench' });
      await charla.app.listen({ host: '127.0.0.1', port: 0 });
      const address = charla.app.server.address();
      const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
      charla.ctx.config.publicUrl = url;
      const launcher: number[] = [];
      const loaded: number[] = [];
      const config: number[] = [];
      const open: number[] = [];
      for (let i = 0; i <= runs; i++) {
        const context = await browser.newContext();
        const page = await context.newPage();
        await page.goto(`${url}/demo`);
        const button = page.locator('#charla-widget button.l');
        await button.waitFor();
        // Resource timing splits it: the loader's download, then the config request.
        // (No named inner function: tsx would wrap it in a helper the page does not have.)
        const [mark, loaderEnd, configMs] = await page.evaluate(() => {
          const resources = performance.getEntriesByType('resource') as PerformanceResourceTiming[];
          return [
            performance.getEntriesByName('charla:launcher')[0]?.startTime ?? -1,
            resources.find((e) => e.name.includes('/widget/loader.js'))?.responseEnd ?? -1,
            resources.find((e) => e.name.includes('/config'))?.duration ?? -1,
          ];
        });
        const clicked = Date.now();
        await button.click();
        await page.locator('#charla-widget textarea').waitFor();
        // The first run warms the server (the widget's build, the demo channel): not measured.
        if (i > 0) {
          launcher.push(mark!);
          loaded.push(loaderEnd!);
          config.push(configMs!);
          open.push(Date.now() - clicked);
        }
        await context.close();
      }
      for (const list of [launcher, loaded, config, open]) list.sort((a, b) => a - b);
      const ms = (n: number) => `${n.toFixed(1)} ms`;
      console.log(`\nDemo page on ${bench.description}, ${runs} fresh page loads (Chromium, loopback):`);
      printTable([
        ['measure', 'p50', 'p90', 'max'],
        [
          'time to launcher (navigation start → launcher drawn)',
          ...[50, 90, 100].map((p) => ms(percentile(launcher, p))),
        ],
        [
          '  loader.js received (since navigation start)',
          ...[50, 90, 100].map((p) => ms(percentile(loaded, p))),
        ],
        ['  GET /web-chat/:token/config', ...[50, 90, 100].map((p) => ms(percentile(config, p)))],
        [
          'click → message box (loads app.js and app.css)',
          ...[50, 90, 100].map((p) => ms(percentile(open, p))),
        ],
      ]);
    } finally {
      await browser.close();
      await charla.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
}

const ok = await sizes();
if (process.argv.includes('--launch')) await timeToLauncher();
process.exit(ok ? 0 : 1);

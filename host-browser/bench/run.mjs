// Drives the browser benchmark: bundles bench.js, opens bench.html in Debian's
// Chromium, then runs one query per JSON line read from stdin and answers with
// one JSON line on stdout. Driven by tests/bench/bench_browser.py, which owns
// the server (latency, byte and request counts).
// Usage: node bench/run.mjs <bench-page-url>

import { createInterface } from 'node:readline';
import { build } from 'esbuild';
import { launchChromium } from '../test/chromium.mjs';

await build({
  entryPoints: ['bench/bench.js'], outfile: 'dist/bench/bench.js', bundle: true, format: 'esm',
  platform: 'browser', target: 'chrome120', external: ['node:*', '../quiver.js'], logLevel: 'warning',
});

const browser = await launchChromium();
try {
  const page = await browser.newPage();
  page.on('pageerror', (error) => process.stderr.write(`[page error] ${error.message}\n`));
  await page.goto(process.argv[2]);
  await page.waitForFunction(() => window.benchReady === true);
  process.stdout.write('{"ready":true}\n');
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    const result = await page.evaluate((q) => window.runOne(q), JSON.parse(line));
    process.stdout.write(`${JSON.stringify(result)}\n`);
  }
} finally {
  await browser.close();
}

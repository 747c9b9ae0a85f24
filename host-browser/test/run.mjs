// Runs scan cases in Debian's Chromium through playwright-core and prints the
// results as JSON. Usage:
//   node test/run.mjs <harness-url> <cases.json> <results.json> [profile-dir]
// cases.json: [{ build, gpu, cache, keepCache, cases: [{ id, url, open, request }] }, …], or
// [{ harness: 'runProgress' | 'runAbort', …arguments }]; the browser logs go to
// stderr. A profile directory is kept for a later run (its Cache API storage
// with it); without one the browser starts from a fresh profile. Used by
// tests/test_browser.py.

import { readFileSync, writeFileSync } from 'node:fs';
import { launchChromium } from './chromium.mjs';

const [harnessUrl, casesPath, resultsPath, profile] = process.argv.slice(2);
const groups = JSON.parse(readFileSync(casesPath, 'utf8'));
const browser = await launchChromium({ webgpu: groups.some((g) => g.gpu), profile });
try {
  const page = await browser.newPage();
  page.on('console', (message) => process.stderr.write(`[browser ${message.type()}] ${message.text()}\n`));
  page.on('pageerror', (error) => process.stderr.write(`[page error] ${error.message}\n`));
  await page.goto(harnessUrl);
  await page.waitForFunction(() => window.harnessReady === true);
  const results = [];
  for (const group of groups) {
    const { harness = 'runCases', ...args } = group;
    results.push(await page.evaluate(([name, a]) => window[name](a), [harness, args]));
  }
  writeFileSync(resultsPath, JSON.stringify(results));
} finally {
  await browser.close();
}

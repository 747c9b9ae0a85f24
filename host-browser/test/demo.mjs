// Drives the demo page in Debian's Chromium: opens it (with `?url=` when
// given), optionally runs a query, and prints what the page shows as JSON.
// Usage: node test/demo.mjs <page-url> <actions.json> <out.json> [screenshot.png]
// actions.json: { where?, limit?, compute?, columns?: [names to keep checked] }

import { readFileSync, writeFileSync } from 'node:fs';
import { launchChromium } from './chromium.mjs';

const [pageUrl, actionsPath, outPath, screenshotPath] = process.argv.slice(2);
const actions = JSON.parse(readFileSync(actionsPath, 'utf8'));
const browser = await launchChromium({ webgpu: true });
const settled = (states) => page.waitForFunction((wanted) => wanted.includes(document.body.dataset.state), states, { timeout: 60000 });
let page;
try {
  page = await browser.newPage();
  page.on('console', (message) => process.stderr.write(`[browser ${message.type()}] ${message.text()}\n`));
  await page.goto(pageUrl);
  await settled(['opened', 'error']);
  let state = await page.evaluate(() => document.body.dataset.state);
  if (state === 'opened' && actions.run) {
    if (actions.columns) {
      await page.$$eval('input[name=column]', (boxes, keep) => {
        for (const box of boxes) box.checked = keep.includes(box.value);
      }, actions.columns);
    }
    if (actions.where !== undefined) await page.fill('#where', actions.where);
    if (actions.limit !== undefined) await page.fill('#limit', String(actions.limit));
    if (actions.compute) await page.selectOption('#compute', actions.compute);
    await page.click('#run');
    await settled(['done', 'error']);
    state = await page.evaluate(() => document.body.dataset.state);
  }
  const shown = await page.evaluate(() => {
    const text = (id) => document.getElementById(id)?.textContent ?? '';
    const message = document.getElementById('message');
    const table = document.getElementById('results');
    return {
      state: document.body.dataset.state,
      engine: text('engine'),
      message: message.hidden ? null : { kind: message.className, text: message.textContent },
      fileSummary: text('file-summary'),
      schema: [...document.querySelectorAll('#schema tbody tr')].map((tr) => tr.cells[1].textContent),
      layoutRows: document.querySelectorAll('#layout tbody tr').length,
      header: [...table.tHead.querySelectorAll('th')].map((th) => th.textContent),
      rows: [...table.tBodies[0].rows].map((tr) => [...tr.cells].map((td) => td.textContent)),
      resultCount: text('result-count'),
      progress: document.getElementById('progress').value,
      progressText: text('progress-text'),
      stats: Object.fromEntries([...document.querySelectorAll('#stats dd')].map((dd) => [dd.dataset.stat, dd.textContent])),
    };
  });
  if (screenshotPath && state === 'done') {
    await page.locator('#results').screenshot({ path: screenshotPath });
  }
  writeFileSync(outPath, JSON.stringify(shown));
} finally {
  await browser.close();
}

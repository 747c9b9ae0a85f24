// The demo page: open a Parquet URL, see its schema and layout, run a query
// with a live progress bar, and see what it cost. The engine runs in a Worker.
// `?url=…` prefills the URL and opens it; `document.body.dataset.state` says
// where the page is (`ready`, `opened`, `running`, `done`, `error`), for tests.

import { DataType, start } from '../quiver.js';

const $ = (id) => document.getElementById(id);
const MAX_ROWS_SHOWN = 1000;
let quiver = null;
let file = null;
let running = null;

const bytes = (n) => {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
};
const count = (n) => Number(n).toLocaleString('en-US');

function setState(state) {
  document.body.dataset.state = state;
}

function showMessage(text, kind = 'error') {
  const box = $('message');
  box.textContent = text;
  box.className = kind;
  box.hidden = !text;
}

/** A sentence for each kind of failure a user meets with remote files. */
function explain(error) {
  switch (error.code) {
    case 'http-status':
      return error.status === 404
        ? `Not found (HTTP 404): nothing is served at ${error.url}.`
        : `The server answered HTTP ${error.status} for ${error.url}.`;
    case 'cors':
      return `Blocked by CORS: ${error.message}`;
    case 'network':
      return `Network error: ${error.message}`;
    case 'not-parquet':
      return `Not a Parquet file: ${error.message}`;
    case 'corrupt-file':
      return `The Parquet file is damaged: ${error.message}`;
    case 'protocol':
      return `The server does not speak HTTP range requests correctly: ${error.message}`;
    case 'syntax-error':
    case 'column-not-found':
    case 'type-mismatch':
      return `Query error: ${error.message}`;
    case 'aborted':
      return 'Cancelled.';
    default:
      return `${error.code ?? 'error'}: ${error.message}`;
  }
}

function row(cells, header = false) {
  const tr = document.createElement('tr');
  for (const cell of cells) {
    const td = document.createElement(header ? 'th' : 'td');
    if (cell instanceof Node) td.append(cell);
    else td.textContent = cell;
    if (!header && typeof cell === 'number') td.className = 'num';
    tr.append(td);
  }
  return tr;
}

function renderFile() {
  const { metadata, openStats } = file;
  $('file-summary').textContent =
    `${count(metadata.numRows)} rows in ${metadata.rowGroups.length} row groups, ${bytes(metadata.size)}` +
    `${metadata.createdBy ? `, written by ${metadata.createdBy}` : ''}. ` +
    `Opening it took ${openStats.fetch.requests} request(s) and ${bytes(openStats.fetch.bytesFetched)}.`;
  const schema = $('schema').tBodies[0];
  schema.replaceChildren();
  for (const column of metadata.columns) {
    const pick = document.createElement('input');
    pick.type = 'checkbox';
    pick.checked = true;
    pick.name = 'column';
    pick.value = column.name;
    schema.append(row([pick, column.name, column.physicalType, column.logicalType ?? '', column.arrowType]));
  }
  const layout = $('layout').tBodies[0];
  layout.replaceChildren();
  metadata.rowGroups.forEach((group, i) => {
    layout.append(row([i, group.numRows, bytes(group.compressedSize), bytes(group.uncompressedSize)]));
  });
  $('file').hidden = false;
  $('query-form').hidden = false;
  if (openStats.path === 'whole-file') {
    showMessage(
      `This server ignores HTTP Range requests: it sent the whole file (${bytes(openStats.fetch.bytesFetched)}) to answer the open. ` +
        'Queries still work, but cannot fetch less than the whole file from it.',
      'warning',
    );
  }
}

async function openUrl(url) {
  showMessage('');
  $('file').hidden = true;
  $('query-form').hidden = true;
  $('results-section').hidden = true;
  $('stats-section').hidden = true;
  file?.close().catch(() => {});
  file = null;
  try {
    file = await quiver.open(url);
    renderFile();
    setState('opened');
  } catch (error) {
    showMessage(explain(error));
    setState('error');
  }
}

function renderResults(table) {
  const thead = $('results').tHead;
  const tbody = $('results').tBodies[0];
  thead.replaceChildren(row(table.schema.fields.map((f) => f.name), true));
  tbody.replaceChildren();
  const columns = table.schema.fields.map((field, i) => ({ type: field.type, vector: table.getChildAt(i) }));
  const shown = Math.min(table.numRows, MAX_ROWS_SHOWN);
  for (let r = 0; r < shown; r++) {
    tbody.append(row(columns.map(({ type, vector }) => display(vector.get(r), type))));
  }
  $('result-count').textContent =
    table.numRows > shown ? `(${count(table.numRows)} rows, first ${shown} shown)` : `(${count(table.numRows)} rows)`;
  $('results-section').hidden = false;
}

/** A cell as text: timestamps and dates as ISO text, decimals with their scale. */
function display(value, type) {
  if (value === null || value === undefined) return 'NULL';
  if (DataType.isTimestamp(type)) {
    const text = new Date(Number(value)).toISOString().replace('T', ' ');
    return type.timezone ? text : text.replace('Z', '');
  }
  if (DataType.isDate(type)) return new Date(Number(value)).toISOString().slice(0, 10);
  if (DataType.isDecimal(type)) return withScale(String(value), type.scale);
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return value.toString();
  return String(value);
}

function withScale(digits, scale) {
  if (!scale) return digits;
  const negative = digits.startsWith('-');
  const magnitude = (negative ? digits.slice(1) : digits).padStart(scale + 1, '0');
  const text = `${magnitude.slice(0, -scale)}.${magnitude.slice(-scale)}`;
  return negative ? `-${text}` : text;
}

function renderStats(stats, wallMs) {
  const total = stats.fetch.bytesFetched + file.openStats.fetch.bytesFetched;
  const tiers = stats.kernels.length
    ? stats.kernels.map((k) => `${k.tier} for ${k.predicate} (${k.reason})`).join('; ')
    : 'no kernel (no filter, or Arrow kernels only)';
  const entries = [
    ['bytes fetched', `${bytes(total)} of ${bytes(file.metadata.size)} (${((100 * total) / file.metadata.size).toFixed(1)}% of the file, open included)`],
    ['requests', `${stats.fetch.requests} for the query, ${file.openStats.fetch.requests} for the open`],
    ['round trips', `${stats.fetch.roundTrips}`],
    ['from the cache', `${stats.fetch.cacheHits} ranges, ${bytes(stats.fetch.cacheBytes)} not fetched again`],
    ['row groups', `${stats.rowGroupsScanned} read, ${stats.rowGroupsPruned} pruned of ${stats.rowGroups}`],
    ['pages pruned', `${stats.pagesPruned}`],
    ['rows', `${count(stats.rowsScanned)} scanned, ${count(stats.rowsMatched)} matched, ${count(stats.rowsReturned)} returned`],
    ['compute', tiers],
    ['GPU adapter', stats.gpuAdapter ?? 'not asked'],
    ['time', `${wallMs.toFixed(0)} ms`],
  ];
  $('stats').replaceChildren(
    ...entries.flatMap(([name, value]) => {
      const dt = document.createElement('dt');
      dt.textContent = name;
      const dd = document.createElement('dd');
      dd.textContent = value;
      dd.dataset.stat = name;
      return [dt, dd];
    }),
  );
  $('stats-section').hidden = false;
}

function onProgress(progress) {
  $('progress').value = progress.fraction;
  $('progress-text').textContent =
    `${bytes(progress.bytesFetched)}${progress.bytesPlanned ? ` of at most ${bytes(progress.bytesPlanned)}` : ''}` +
    ` · row groups ${progress.rowGroupsDone}/${progress.rowGroupsTotal}` +
    ` · ${progress.requests} requests · ${count(progress.rowsReturned)} rows${progress.done ? ' · done' : ''}`;
}

async function runQuery() {
  if (!file || running) return;
  showMessage('');
  const columns = [...document.querySelectorAll('input[name=column]:checked')].map((box) => box.value);
  const where = $('where').value.trim();
  const limit = $('limit').value === '' ? undefined : Number($('limit').value);
  running = new AbortController();
  $('cancel').disabled = false;
  $('run').disabled = true;
  $('progress-section').hidden = false;
  onProgress({ bytesFetched: 0, bytesPlanned: 0, fraction: 0, rowGroupsDone: 0, rowGroupsTotal: 0, requests: 0, rowsReturned: 0, done: false });
  setState('running');
  const began = performance.now();
  let stats = null;
  try {
    const table = await file.query({
      columns,
      where: where || undefined,
      limit,
      compute: $('compute').value,
      signal: running.signal,
      onProgress,
      onStats: (s) => (stats = s),
    });
    renderResults(table);
    renderStats(stats, performance.now() - began);
    setState('done');
  } catch (error) {
    showMessage(explain(error));
    setState('error');
  } finally {
    running = null;
    $('cancel').disabled = true;
    $('run').disabled = false;
  }
}

async function main() {
  const params = new URLSearchParams(location.search);
  $('url').value = params.get('url') ?? new URL('data/sample.parquet', location.href).href;
  $('open-form').addEventListener('submit', (event) => {
    event.preventDefault();
    openUrl($('url').value);
  });
  $('query-form').addEventListener('submit', (event) => {
    event.preventDefault();
    runQuery();
  });
  $('cancel').addEventListener('click', () => running?.abort());
  try {
    quiver = await start();
  } catch (error) {
    $('engine').textContent = `The engine could not start: ${error.message}`;
    setState('error');
    return;
  }
  const { build, webgpu } = quiver.info;
  $('engine').textContent =
    `Engine: ${build === 'simd' ? 'SIMD128' : 'scalar'} build in a Worker; WebGPU: ` +
    (webgpu ? `${webgpu.architecture || webgpu.vendor || 'adapter'}${webgpu.fallback ? ' (software)' : ''}` : 'none');
  setState('ready');
  await openUrl($('url').value);
}

main();

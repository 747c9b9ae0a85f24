// Compiled (never run) by tests/test_browser.py with `tsc --noEmit`: the
// package's hand-written types must accept the README's usage and reject
// misuse (the @ts-expect-error lines fail the build if they stop being errors).

import { open, start, QuiverError, type ScanStats, type Table } from '@quiver/engine';

export async function example(controller: AbortController): Promise<Table> {
  const file = await open('https://example.org/trips.parquet', { maxConcurrency: 6, cache: false });
  const names: string[] = file.schema.fields.map((field) => field.name);
  const rows: number = file.metadata.numRows + file.metadata.rowGroups.length + names.length;
  const leaves: string[] = file.metadata.schemaTree
    .filter((node) => node.depth > 0 && node.physicalType !== undefined)
    .map((node) => `${node.name} ${node.repetition} ${node.logicalType ?? ''}`);
  for await (const batch of file.scan({ columns: ['id'], where: 'fare > 50', limit: rows + leaves.length })) {
    batch.numRows.toFixed();
  }
  let last: ScanStats | null = null;
  const table = await file.query({
    where: "payment_type = 'card'",
    compute: 'simd',
    signal: controller.signal,
    onProgress: (p) => p.bytesFetched / (p.bytesPlanned ?? 1),
    onStats: (stats) => (last = stats),
  });
  const plan = await file.explain({ where: 'id = 1' });
  plan.firstPhase.map((range) => range.offset + range.length);
  const quiver = await start({ build: 'scalar', gpu: false, cache: { maxBytes: 64 * 2 ** 20 } });
  quiver.info.webgpu?.fallback;
  await quiver.clearCache();
  const saved: number = (last as ScanStats | null)?.fetch.cacheBytes ?? 0;
  saved.toFixed();
  // @ts-expect-error: the cache is configured with an object, or turned off
  await start({ cache: 1024 });
  quiver.terminate();
  // @ts-expect-error: not a tier
  await file.query({ compute: 'fast' });
  // @ts-expect-error: columns are a list
  file.scan({ columns: 'id' });
  void last;
  return table;
}

export function describe(error: unknown): string {
  return error instanceof QuiverError ? `${error.code}: ${error.message}` : String(error);
}

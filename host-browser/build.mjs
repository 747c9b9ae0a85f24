// Builds the package into dist/: the engine's two builds transpiled by jco
// (JSPI, async instantiation), the browser bundle and its Worker (esbuild), and
// the demo page. Usage: node build.mjs <quiver-engine.wasm> <quiver-engine-scalar.wasm>

import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';
import { ASYNC_EXPORTS, ASYNC_IMPORTS } from './src/async-names.js';

const [simdWasm, scalarWasm] = process.argv.slice(2);
if (!simdWasm || !scalarWasm) {
  console.error('usage: node build.mjs <quiver-engine.wasm> <quiver-engine-scalar.wasm>');
  process.exit(2);
}

rmSync('dist', { recursive: true, force: true });
for (const [name, wasm] of [['simd', simdWasm], ['scalar', scalarWasm]]) {
  execFileSync('node_modules/.bin/jco', [
    'transpile', wasm, '-o', `dist/engine/${name}`, '--name', 'quiver-engine', '--quiet',
    '--instantiation', 'async', '--no-typescript', '--no-nodejs-compat',
    '--async-mode', 'jspi', '--async-imports', ...ASYNC_IMPORTS, '--async-exports', ...ASYNC_EXPORTS,
  ], { stdio: 'inherit' });
  stripNames(`dist/engine/${name}/quiver-engine.core.wasm`);
  rmSync(`dist/engine/${name}/interfaces`, { recursive: true, force: true });
  rmSync(`dist/engine/${name}/quiver-engine.d.ts`, { force: true });
}

/**
 * Drops the `name` custom section (function names for stack traces, 2.2 MB of
 * the 17 MB core module) from a core wasm module; every other section is kept
 * byte for byte. A few lines here rather than wasm-tools, which CI machines
 * lack (installing it compiles a crate for minutes).
 */
function stripNames(path) {
  const bytes = readFileSync(path);
  const kept = [bytes.subarray(0, 8)]; // magic and version
  let at = 8;
  while (at < bytes.length) {
    const [size, body] = leb128(bytes, at + 1);
    const end = body + size;
    const custom = bytes[at] === 0;
    const [nameLength, name] = custom ? leb128(bytes, body) : [0, 0];
    if (!(custom && bytes.subarray(name, name + nameLength).toString() === 'name')) {
      kept.push(bytes.subarray(at, end));
    }
    at = end;
  }
  writeFileSync(path, Buffer.concat(kept));
}

/** An unsigned LEB128 number at `offset`: `[value, offset after it]`. */
function leb128(bytes, offset) {
  let value = 0;
  for (let shift = 0; ; shift += 7) {
    const byte = bytes[offset++];
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return [value, offset];
  }
}

const common = { bundle: true, format: 'esm', platform: 'browser', target: 'chrome120', sourcemap: true, logLevel: 'warning', external: ['node:*'] };
await build({ ...common, entryPoints: { quiver: 'src/browser.js', 'quiver-worker': 'src/worker.js' }, outdir: 'dist' });

mkdirSync('dist/demo/data', { recursive: true });
cpSync('demo', 'dist/demo', { recursive: true });
cpSync('../tests/data/sample.parquet', 'dist/demo/data/sample.parquet');
console.log('built host-browser/dist');

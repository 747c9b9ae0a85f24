// Builds the package into dist/: the engine's two builds transpiled by jco
// (JSPI, async instantiation), the browser bundle and its Worker (esbuild), and
// the demo page. Usage: node build.mjs <quiver-engine.wasm> <quiver-engine-scalar.wasm>

import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync } from 'node:fs';
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
  rmSync(`dist/engine/${name}/interfaces`, { recursive: true, force: true });
  rmSync(`dist/engine/${name}/quiver-engine.d.ts`, { force: true });
}

const common = { bundle: true, format: 'esm', platform: 'browser', target: 'chrome120', sourcemap: true, logLevel: 'warning', external: ['node:*'] };
await build({ ...common, entryPoints: { quiver: 'src/browser.js', 'quiver-worker': 'src/worker.js' }, outdir: 'dist' });

mkdirSync('dist/demo/data', { recursive: true });
cpSync('demo', 'dist/demo', { recursive: true });
cpSync('../tests/data/sample.parquet', 'dist/demo/data/sample.parquet');
console.log('built host-browser/dist');

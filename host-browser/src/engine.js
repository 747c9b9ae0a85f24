// Loads the jco-transpiled engine component with the imports it needs:
// wasi:* from @bytecodealliance/preview2-shim (fetch() for wasi:http in
// browsers, Node's own HTTP on Node), `quiver:engine/gpu` from WebGPU and
// `quiver:engine/range-cache` from the Cache API or memory (cache.js).
// Runs in a module Worker, a window or Node (>= 24, for JSPI).

import { WASIShim } from '@bytecodealliance/preview2-shim/instantiation';
import { ASYNC_IMPORTS } from './async-names.js';

/** The smallest module that uses a SIMD128 instruction (`i32x4.splat` of 0). */
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);

/** What this JS engine and device can do; `gpu` is the engine's WebGPU import (see gpu.js). */
export async function detectCapabilities(gpu) {
  return {
    simd: WebAssembly.validate(SIMD_PROBE),
    jspi: typeof WebAssembly.Suspending === 'function' && typeof WebAssembly.promising === 'function',
    webgpu: await gpu.describe(),
  };
}

/**
 * Instantiates one engine build.
 * @param {object} options
 * @param {URL | string} options.engineBase URL of the folder holding `simd/` and `scalar/` (the transpiled builds)
 * @param {'simd' | 'scalar'} options.build which build; pick with `detectCapabilities().simd`
 * @param {{ adapter: Function, run: Function }} options.gpu the `quiver:engine/gpu` import (gpu.js)
 * @param {{ lookup: Function, keep: Function, forgetOtherVersions: Function }} options.rangeCache
 *   the `quiver:engine/range-cache` import (cache.js)
 * @returns the engine's exports: `{ scan, filter, rangeFetch }`
 */
export async function instantiateEngine({ engineBase, build, gpu, rangeCache }) {
  if (typeof WebAssembly.Suspending !== 'function') {
    throw new Error(
      'This JavaScript engine lacks JSPI (WebAssembly.Suspending), which the Quiver engine needs to wait on fetch() and WebGPU: use Chromium >= 137 or Node >= 24.',
    );
  }
  const folder = new URL(`${build}/`, engineBase);
  const { instantiate } = await import(/* webpackIgnore: true */ new URL('quiver-engine.js', folder).href);
  const wasi = new WASIShim({ sandbox: { env: {}, args: [], preopens: {} } });
  const imports = guardImports({
    ...wasi.getImportObject(),
    'quiver:engine/gpu': { adapter: gpu.adapter, run: gpu.run },
    'quiver:engine/range-cache': {
      lookup: rangeCache.lookup,
      keep: rangeCache.keep,
      forgetOtherVersions: rangeCache.forgetOtherVersions,
    },
  });
  const engine = await instantiate((name) => compileCore(new URL(name, folder)), imports);
  await assertSuspends(engine, folder);
  return engine;
}

/**
 * Refuses an engine transpiled without JSPI: there a Promise from fetch() or
 * WebGPU would be lowered as an empty value. A JSPI export returns a Promise
 * even when it fails at once, as `open` of a malformed URL does.
 */
async function assertSuspends(engine, folder) {
  let result;
  try {
    result = engine.scan.open('quiver-jspi-probe:', { fetch: {} });
  } catch {
    result = undefined;
  }
  if (!(result instanceof Promise)) {
    throw new Error(`the engine at ${folder} was transpiled without JSPI (jco --async-mode jspi): it cannot wait on fetch() or WebGPU`);
  }
  await result.catch(() => {});
}

/** Names one import as jco's `--async-imports` does: `iface#fn` or `iface#[method]resource.fn`. */
const kebab = (name) => name.replace(/[A-Z]/g, (c, i) => (i ? '-' : '') + c.toLowerCase());
const isClass = (value) => typeof value === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(value));
const GUARDED = Symbol('quiver.guarded');

/**
 * Wraps every import function so that one not listed in ASYNC_IMPORTS throws,
 * rather than returning a Promise: jco would lower that Promise as an empty
 * value (wrong answers, no error); a throw becomes an error of the engine call.
 */
export function guardImports(imports, asyncImports = ASYNC_IMPORTS) {
  const allowed = new Set(asyncImports);
  const guard = (fn, name) => {
    if (allowed.has(name)) return fn;
    return function guarded(...args) {
      const result = fn.apply(this, args);
      if (result && typeof result.then === 'function') {
        throw new Error(`the host import ${name} returned a Promise, but the engine was not transpiled to wait on it`);
      }
      return result;
    };
  };
  const out = {};
  for (const [iface, members] of Object.entries(imports)) {
    if (!members) continue;
    out[iface] = {};
    for (const [name, member] of Object.entries(members)) {
      if (isClass(member)) {
        if (!member.prototype[GUARDED]) {
          for (const method of Object.getOwnPropertyNames(member.prototype)) {
            const fn = member.prototype[method];
            if (method === 'constructor' || typeof fn !== 'function') continue;
            member.prototype[method] = guard(fn, `${iface}#[method]${kebab(name)}.${kebab(method)}`);
          }
          member.prototype[GUARDED] = true;
        }
        out[iface][name] = member;
      } else if (typeof member === 'function') {
        out[iface][name] = guard(member, `${iface}#${kebab(name)}`);
      } else {
        out[iface][name] = member;
      }
    }
  }
  return out;
}

async function compileCore(url) {
  if (url.protocol === 'file:') {
    const { readFile } = await import('node:fs/promises');
    return WebAssembly.compile(await readFile(url));
  }
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot load ${url}: HTTP ${response.status}`);
  return WebAssembly.compileStreaming(response);
}

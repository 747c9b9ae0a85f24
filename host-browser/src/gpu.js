// The `quiver:engine/gpu` import on WebGPU (`navigator.gpu`): the same generic
// contract as host-native's wgpu host. Mechanism only: the engine passes WGSL,
// buffers and workgroup counts; this compiles (once per source and entry
// point), binds, dispatches and reads back. Both functions are asynchronous and
// are transpiled as JSPI suspending imports (see the Makefile's jco flags).

/** @typedef {{ name: string, backend: string, kind: string, maxStorageBufferBindingSize: bigint, maxComputeWorkgroupsPerDimension: number }} AdapterInfo */

/**
 * Makes the `quiver:engine/gpu` import (`adapter`, `run`), and `describe` for
 * capability detection; both share one adapter request.
 * @param {{ gpu?: GPU | null, enabled?: boolean }} [options] `gpu` defaults to `navigator.gpu`;
 *   `enabled: false` offers no adapter (the engine's kernels then run on the CPU).
 */
export function webGpuImport(options = {}) {
  const gpu = options.enabled === false ? null : (options.gpu ?? globalThis.navigator?.gpu ?? null);
  let requested = null;
  let opening = null;
  const pipelines = new Map();

  /** The adapter, requested once; none when WebGPU is absent or refuses one. */
  function requestAdapter() {
    requested ??= gpu ? gpu.requestAdapter({ powerPreference: 'high-performance' }).catch(() => null) : Promise.resolve(null);
    return requested;
  }

  /**
   * The device, opened on the engine's first call (never at load time); none
   * when WebGPU refuses an adapter or a device (a rejection here would trap).
   */
  function open() {
    opening ??= requestAdapter().then(openDevice).catch(() => null);
    return opening;
  }

  async function pipeline(device, wgsl, entryPoint) {
    const key = `${entryPoint}\u0000${wgsl}`;
    let found = pipelines.get(key);
    if (!found) {
      device.pushErrorScope('validation');
      const module = device.createShaderModule({ code: wgsl, label: 'quiver kernel' });
      const info = await module.getCompilationInfo();
      const errors = info.messages.filter((m) => m.type === 'error');
      const created = device.createComputePipeline({
        layout: 'auto',
        compute: { module, entryPoint },
        label: entryPoint,
      });
      const error = await device.popErrorScope();
      if (errors.length || error) {
        const text = errors.map((m) => `${m.lineNum}:${m.linePos}: ${m.message}`).join('; ');
        throw gpuError('shader', text || error.message);
      }
      found = created;
      pipelines.set(key, found);
    }
    return found;
  }

  return {
    /** What the adapter is, for capability reports: `null` without one. */
    async describe() {
      const adapter = await requestAdapter();
      if (!adapter) return null;
      const info = adapter.info ?? {};
      return {
        vendor: info.vendor ?? '',
        architecture: info.architecture ?? '',
        description: info.description ?? '',
        fallback: isSoftwareAdapter(adapter),
      };
    },

    /** @returns {Promise<AdapterInfo | undefined>} */
    async adapter() {
      const opened = await open();
      return opened?.info;
    },

    async run(pass) {
      const opened = await open();
      if (!opened) return { tag: 'err', val: { tag: 'no-adapter' } };
      try {
        checkLimits(opened.info, pass);
        return { tag: 'ok', val: await dispatch(opened.device, await pipeline(opened.device, pass.wgsl, pass.entryPoint), pass) };
      } catch (error) {
        if (error && error.gpuError) return { tag: 'err', val: error.gpuError };
        return { tag: 'err', val: { tag: 'device', val: String(error?.message ?? error) } };
      }
    },
  };
}

async function openDevice(adapter) {
  if (!adapter) return null;
  const limits = adapter.limits;
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
    },
  });
  const details = adapter.info ?? {};
  return {
    device,
    info: {
      name: details.description || details.device || details.vendor || 'WebGPU adapter',
      backend: 'webgpu',
      kind: isSoftwareAdapter(adapter) ? 'cpu' : 'other',
      maxStorageBufferBindingSize: BigInt(device.limits.maxStorageBufferBindingSize),
      maxComputeWorkgroupsPerDimension: device.limits.maxComputeWorkgroupsPerDimension,
    },
  };
}

/** WebGPU tells software adapters (SwiftShader) by `isFallbackAdapter` or their names. */
function isSoftwareAdapter(adapter) {
  const details = adapter.info ?? {};
  const text = `${details.vendor ?? ''} ${details.architecture ?? ''} ${details.description ?? ''}`.toLowerCase();
  return Boolean(adapter.isFallbackAdapter || details.isFallbackAdapter || /swiftshader|llvmpipe|lavapipe|software/.test(text));
}

function gpuError(tag, val) {
  const error = new Error(`${tag}: ${val}`);
  error.gpuError = { tag, val };
  return error;
}

function bufferSize(init) {
  return init.tag === 'contents' ? init.val.byteLength : Number(init.val);
}

function checkLimits(info, pass) {
  const largest = Number(info.maxStorageBufferBindingSize);
  for (const buffer of pass.buffers) {
    const size = bufferSize(buffer.init);
    if (size > largest) {
      throw gpuError('limit-exceeded', `binding ${buffer.binding} holds ${size} bytes; the adapter binds at most ${largest}`);
    }
    if (size === 0 || size % 4 !== 0) {
      throw gpuError('limit-exceeded', `binding ${buffer.binding} holds ${size} bytes, not a positive multiple of 4`);
    }
  }
  const most = info.maxComputeWorkgroupsPerDimension;
  if (Math.max(...pass.workgroups) > most) {
    throw gpuError('limit-exceeded', `dispatch of ${pass.workgroups.join('×')} workgroups; the adapter allows ${most} per dimension`);
  }
}

async function dispatch(device, pipeline, pass) {
  device.pushErrorScope('validation');
  const storage = pass.buffers.map((spec) => {
    const size = bufferSize(spec.init);
    const buffer = device.createBuffer({
      size,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      label: `quiver binding ${spec.binding}`,
    });
    if (spec.init.tag === 'contents') device.queue.writeBuffer(buffer, 0, spec.init.val);
    return buffer;
  });
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: pass.buffers.map((spec, i) => ({ binding: spec.binding, resource: { buffer: storage[i] } })),
  });
  const encoder = device.createCommandEncoder();
  const compute = encoder.beginComputePass();
  compute.setPipeline(pipeline);
  compute.setBindGroup(0, bindGroup);
  compute.dispatchWorkgroups(...pass.workgroups);
  compute.end();
  const staging = [];
  pass.buffers.forEach((spec, i) => {
    if (!spec.readBack) return;
    const copy = device.createBuffer({ size: storage[i].size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    encoder.copyBufferToBuffer(storage[i], 0, copy, 0, storage[i].size);
    staging.push(copy);
  });
  device.queue.submit([encoder.finish()]);
  const error = await device.popErrorScope();
  if (error) throw gpuError('device', error.message);
  const out = [];
  for (const copy of staging) {
    await copy.mapAsync(GPUMapMode.READ);
    out.push(new Uint8Array(copy.getMappedRange().slice(0)));
    copy.unmap();
    copy.destroy();
  }
  storage.forEach((buffer) => buffer.destroy());
  return out;
}

// Launches Debian's Chromium (/usr/bin/chromium, never a downloaded browser)
// headless through playwright-core, with a fresh profile or a given one.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

/** Flags for a closed network: no background traffic, no QUIC, no sandbox (root in CI). */
const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/**
 * @param {{ webgpu?: boolean, profile?: string }} [options] `webgpu` adds --enable-unsafe-webgpu,
 *   which gives SwiftShader's software WebGPU adapter on a machine without a GPU; `profile` is a
 *   profile directory to use and keep (so that a later launch sees its storage, the Cache API's
 *   included), else a fresh one is made and removed at `close`.
 */
export async function launchChromium({ webgpu = false, profile: kept } = {}) {
  const profile = kept ?? mkdtempSync(join(tmpdir(), 'quiver-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [...ARGS, ...(webgpu ? ['--enable-unsafe-webgpu'] : [])],
  });
  return {
    newPage: () => context.newPage(),
    close: async () => {
      await context.close();
      if (!kept) rmSync(profile, { recursive: true, force: true });
    },
  };
}

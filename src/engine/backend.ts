/**
 * The one place that chooses the TF.js backend, best first: tfjs-node-gpu / tfjs-node (native
 * TensorFlow, when the person installed it), WebGPU through Dawn (the `webgpu` package) when a
 * hardware adapter is present, then WebAssembly, then plain JavaScript. `--backend` forces one.
 * Choosing wasm also installs the engine's replacements of some of its kernels (./wasm-kernels.ts:
 * the UnsortedSegmentSum it lacks, and faster BatchMatMul, Slice and Identity); in Node it runs a
 * single thread.
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { BACKEND_NAMES, type BackendName } from '../common/enums.ts';
import { CharmerError } from './errors.ts';
import { installFusedLayers } from './fused/index.ts';
import { NATIVE_PACKAGES, useNativePackage } from './fused/native-sequence.ts';
import type { BackendInfo } from './events.ts';
import { installWasmKernels } from './wasm-kernels.ts';

const require = createRequire(import.meta.url);
let current: BackendInfo | null = null;

// The cpu backend greets its first tensor in Node with a banner on stderr ("Hi, looks like you are
// running TensorFlow.js in Node.js...") that advises installing tfjs-node, which Charmer already
// tries first. It is no news to a person reading our output: every cpu backend the engine makes
// (it makes a fresh one when a tensor appears before any backend is chosen) has already greeted.
{
  const entry = (tf.engine() as unknown as { registryFactory: Record<string, { factory: () => unknown }> }).registryFactory.cpu;
  if (entry) {
    const make = entry.factory;
    entry.factory = () => Object.assign(make() as object, { firstUse: false });
  }
  const made = (tf.engine() as unknown as { registry: Record<string, { firstUse?: boolean }> }).registry.cpu;
  if (made) made.firstUse = false;
}

export function currentBackend(): BackendInfo | null {
  return current;
}

/** Initialise and select a backend; idempotent for the same request. */
export async function chooseBackend(request: BackendName | 'auto' = 'auto'): Promise<BackendInfo> {
  if (current && (request === 'auto' || current.backend.startsWith(request))) return current;
  const order: readonly BackendName[] = request === 'auto' ? BACKEND_NAMES : [request];
  const failures: string[] = [];
  for (const name of order) {
    try {
      const info = await tryBackend(name, request !== 'auto');
      if (info) {
        current = info;
        installFusedLayers(); // fused recurrent layers where the backend has kernels (src/engine/fused)
        return info;
      }
    } catch (e) {
      failures.push(`${name}: ${(e as Error).message}`);
    }
  }
  throw new CharmerError(
    'BACKEND_UNAVAILABLE',
    `The ${request} backend is not available here (${failures.join('; ') || 'not installed'}). Use --backend auto to pick the best available one.`,
  );
}

async function tryBackend(name: BackendName, forced: boolean): Promise<BackendInfo | null> {
  switch (name) {
    case 'tensorflow': {
      for (const pkg of NATIVE_PACKAGES) {
        try {
          require.resolve(pkg);
        } catch {
          continue;
        }
        await import(pkg);
        if (await tf.setBackend('tensorflow')) {
          useNativePackage(pkg); // the fused layers' block ops (fused/native-sequence.ts)
          const gpu = pkg.endsWith('-gpu');
          return { backend: gpu ? 'tensorflow-gpu' : 'tensorflow', device: gpu ? 'GPU (CUDA, TensorFlow native)' : 'CPU (TensorFlow native)', threads: 0 };
        }
      }
      if (forced) throw new Error('install @tensorflow/tfjs-node (or tfjs-node-gpu with CUDA 11.2 and cuDNN 8.1)');
      return null;
    }
    case 'webgpu': {
      const adapterName = await webgpuAdapter(forced);
      if (!adapterName) return null;
      await import('@tensorflow/tfjs-backend-webgpu');
      if (!(await tf.setBackend('webgpu'))) return null;
      return { backend: 'webgpu', device: adapterName, threads: 0 };
    }
    case 'wasm': {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      wasm.setWasmPaths(join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/');
      if (!(await tf.setBackend('wasm'))) return null;
      installWasmKernels();
      return { backend: 'wasm', device: 'CPU (WebAssembly, 1 thread)', threads: 1 };
    }
    case 'cpu': {
      await tf.setBackend('cpu');
      return { backend: 'cpu', device: 'CPU (JavaScript)', threads: 1 };
    }
  }
}

/**
 * The adapter's name, or null. In auto mode a software adapter (lavapipe, SwiftShader) is skipped:
 * it is slower than wasm. Forcing --backend webgpu accepts it (that is how the tests run here).
 */
async function webgpuAdapter(forced: boolean): Promise<string | null> {
  // Probing Dawn on a Linux machine with no GPU device prints Vulkan errors to stderr from native
  // code; auto mode only probes where a GPU device node exists.
  if (!forced && process.platform === 'linux' && !hasLinuxGpuDevice()) return null;
  let mod: { create: (opts: string[]) => GPU; globals: Record<string, unknown> };
  try {
    mod = (await import('webgpu')) as never;
  } catch (e) {
    if (forced) throw new Error(`the webgpu package could not be loaded (${(e as Error).message})`);
    return null;
  }
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  Object.assign(globalThis, mod.globals);
  const gpu = mod.create([]);
  if (!('navigator' in globalThis) || !(globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu) {
    Object.defineProperty(globalThis, 'navigator', { value: { ...(globalThis.navigator ?? {}), gpu }, configurable: true });
  }
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    if (forced) throw new Error('no WebGPU adapter found (no GPU, or Mesa lavapipe older than 25)');
    return null;
  }
  const info = (adapter as unknown as { info?: { vendor?: string; architecture?: string; device?: string; description?: string } }).info ?? {};
  const label = info.description || [info.vendor, info.architecture, info.device].filter(Boolean).join(' ') || 'WebGPU adapter';
  const software = /llvmpipe|lavapipe|swiftshader|software/i.test(label) || (adapter as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  if (software && !forced) return null;
  return `${label}${software ? ' (software)' : ''}`;
}

function hasLinuxGpuDevice(): boolean {
  try {
    return readdirSync('/dev/dri').some((n) => n.startsWith('renderD')) || existsSync('/dev/nvidia0');
  } catch {
    return existsSync('/dev/nvidia0');
  }
}

/**
 * The float32 storage of a tensor on the cpu or wasm backend, without a copy (dataSync copies):
 * the cpu backend's values array or a view of the wasm heap. Null elsewhere (then read with
 * dataSync). A heap view is detached by the next heap growth: use it at once, allocate nothing.
 */
export function hostView(t: tf.Tensor): Float32Array | null {
  if (t.dtype !== 'float32') return null;
  const name = tf.getBackend();
  const b = tf.backend() as unknown as {
    typedArrayFromHeap?(t: tf.TensorInfo): Float32Array;
    data?: { get(id: object): { values?: unknown } | undefined };
  };
  if (name === 'wasm' && b.typedArrayFromHeap) return b.typedArrayFromHeap(t);
  if (name === 'cpu') {
    const v = b.data?.get(t.dataId)?.values;
    return v instanceof Float32Array ? v : null;
  }
  return null;
}

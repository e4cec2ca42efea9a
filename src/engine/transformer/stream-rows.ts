/**
 * The GptStream's passes between its products, on rows in the stream's own memory: LayerNorm,
 * GELU, the residual add and the attention softmax. SIMD WebAssembly where the memory takes it (a
 * plain memory, so the one-thread stream: ../fused/transformer-simd.ts's LayerNorm and GELU, the
 * softmax of ../fused/transformer-quant.ts), plain loops otherwise (the two-thread stream's shared
 * memory, no SIMD). Why: once the products read 8-bit weights, these loops (an erf per MLP unit,
 * an exp per attended position) took about as long as the products.
 */
import { quantModule, type QuantKernels } from '../fused/transformer-quant.ts';
import { transformerSimdFor, type TransformerSimd } from '../fused/transformer-simd.ts';
import { LN_EPSILON } from './layers.ts';

/** erf(x), Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): GELU's Φ without a Math.erf. */
function erf(x: number): number {
  const s = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return s * y;
}

export class StreamRows {
  private readonly f: Float32Array;
  private readonly simd: TransformerSimd | null;
  private readonly soft: QuantKernels | null;

  /** `scratch`: 8 bytes of the memory for LayerNorm's mean and 1/σ. */
  constructor(
    memory: WebAssembly.Memory,
    private readonly C: number,
    private readonly scratch: number,
    fast: boolean,
  ) {
    this.f = new Float32Array(memory.buffer);
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    this.simd = fast && !shared && C % 4 === 0 ? transformerSimdFor(memory) : null;
    const m = fast && !shared ? quantModule(false) : null;
    this.soft = m ? (new WebAssembly.Instance(m, { env: { memory } }).exports as unknown as QuantKernels) : null;
  }

  layerNorm(src: number, dst: number, n: number, gamma: number, beta: number): void {
    const { C, f } = this;
    if (this.simd) {
      for (let r = 0; r < n; r++) this.simd.lnFwd(src + r * C * 4, gamma, beta, dst + r * C * 4, this.scratch, this.scratch + 4, C, LN_EPSILON);
      return;
    }
    const g = gamma / 4;
    const b = beta / 4;
    for (let r = 0; r < n; r++) {
      const x = src / 4 + r * C;
      const y = dst / 4 + r * C;
      let mean = 0;
      for (let c = 0; c < C; c++) mean += f[x + c]!;
      mean /= C;
      let v = 0;
      for (let c = 0; c < C; c++) v += (f[x + c]! - mean) ** 2;
      const inv = 1 / Math.sqrt(v / C + LN_EPSILON);
      for (let c = 0; c < C; c++) f[y + c] = (f[x + c]! - mean) * inv * f[g + c]! + f[b + c]!;
    }
  }

  /** GELU in place over `count` floats (PyTorch's exact form). */
  gelu(at: number, count: number): void {
    if (this.simd && count % 4 === 0) {
      this.simd.gelu(at, at, count);
      return;
    }
    const f = this.f;
    const F = at / 4;
    for (let i = 0; i < count; i++) {
      const v = f[F + i]!;
      f[F + i] = 0.5 * v * (1 + erf(v * Math.SQRT1_2));
    }
  }

  addInto(dst: number, src: number, count: number): void {
    const f = this.f;
    const d = dst / 4;
    const s = src / 4;
    for (let i = 0; i < count; i++) f[d + i]! += f[s + i]!;
  }

  /** s[j] = softmax(scale·s)[j] for j < cols; the floats up to the next multiple of 4 are the caller's room. */
  softmax(at: number, cols: number, scale: number): void {
    const f = this.f;
    const S = at / 4;
    if (this.soft) {
      const n = Math.ceil(cols / 4) * 4;
      for (let j = cols; j < n; j++) f[S + j] = -Infinity;
      this.soft.softmax(at, n, scale);
      return;
    }
    let max = -Infinity;
    for (let j = 0; j < cols; j++) max = Math.max(max, f[S + j]! * scale);
    let z = 0;
    for (let j = 0; j < cols; j++) {
      const e = Math.exp(f[S + j]! * scale - max);
      f[S + j] = e;
      z += e;
    }
    for (let j = 0; j < cols; j++) f[S + j]! /= z;
  }
}

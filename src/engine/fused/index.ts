/**
 * Turning the fused recurrent layers on. Measured on this 2-core machine (bench/, docs/PERFORMANCE.md):
 * on one wasm thread a 2-layer training step (batch 50, seq 50, Adam) runs 2-3x faster fused than
 * the stock tf.layers graph at 128 units and 2.2-2.8x at 512 (and than the autodiff loop), and the
 * sampling step 1.5-35x, so it is the default wherever the backend has fused kernels (wasm, cpu: JS loops; webgpu: WGSL
 * kernels for the whole-sequence ops, the reference for the sampling step). On tensorflow
 * (tfjs-node, tfjs-node-gpu) the whole-sequence ops are TensorFlow's block ops
 * (./native-sequence.ts), below 384 units on its CPU build; the batched sampling step is the reference
 * there (one stream: ./stream.ts). CHARMER_FUSED=0 in the environment turns it off (for comparisons).
 */
import { setSequenceFromIdsImpl, setSequenceImpl, setStepFromIdsImpl, setStepImpl } from '../recurrent.ts';
import { fusedSequence, fusedSequenceFromIds, fusedStep, fusedStepFromIds } from './sequence.ts';
import { referenceCausalSelfAttention, setAttentionImpl, type AttentionImpl } from '../transformer/attention.ts';
import { fusedCausalAttention } from './transformer-ops.ts';

/** The Transformer's attention: one fused kernel each way where the backend has it, else the plain ops. */
const fusedAttention: AttentionImpl = (qkv, nHead) => fusedCausalAttention(qkv, nHead) ?? referenceCausalSelfAttention(qkv, nHead);

export { fusedSequence, fusedSequenceFromIds, fusedStep, fusedStepFromIds, releaseFusedCaches } from './sequence.ts';
export { registerFusedKernels } from './kernels.ts';

export function installFusedLayers(): void {
  const off = process.env.CHARMER_FUSED === '0';
  setSequenceImpl(off ? null : fusedSequence);
  setSequenceFromIdsImpl(off ? null : fusedSequenceFromIds);
  setStepImpl(off ? null : fusedStep);
  setStepFromIdsImpl(off ? null : fusedStepFromIds);
  setAttentionImpl(off ? null : fusedAttention);
}

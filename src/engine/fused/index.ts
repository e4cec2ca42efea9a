/**
 * Turning the fused recurrent layers on. They train and sample several times faster than the stock
 * tf.layers graph and the autodiff loop (bench/, docs/PERFORMANCE.md#figures-behind-the-engines-design-notes), so they are the
 * default wherever the backend has fused kernels (wasm, cpu: JS loops; webgpu: WGSL kernels for the
 * whole-sequence ops, the reference for the sampling step). On tensorflow
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

/** Test helper: select a backend, or skip the test with a note where it is not available here. */
import { chooseBackend } from '../../src/engine/backend.ts';
import type { BackendName } from '../../src/engine/config.ts';

/** webgpu needs an adapter (Mesa 25's lavapipe without a GPU); tensorflow the optional tfjs-node package. */
export async function backendOrSkip(backend: BackendName, ctx: { skip: (note?: string) => void }): Promise<boolean> {
  try {
    await chooseBackend(backend);
    return true;
  } catch (e) {
    ctx.skip(`the ${backend} backend is not available here (${(e as Error).message.slice(0, 160)})`);
    return false;
  }
}

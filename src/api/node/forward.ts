/**
 * Node side: wires the services' live events to a shell's emit function. Progress events of a run
 * can come hundreds of times a second; they are coalesced to at most one per `progressMs` per run
 * (always the latest, and flushed before any other event of that run so the order holds), so a
 * busy trainer cannot flood the window.
 */
import type { Services, RunEvent } from '../../services/types.ts';
import type { EmitOf } from '../define.ts';
import type { Events } from '../contract.ts';

export function forwardRunEvents(services: Services, emit: EmitOf<Events>, progressMs = 50): () => void {
  const pending = new Map<number, { event: RunEvent; timer: ReturnType<typeof setTimeout> }>();
  const flush = (runId: number) => {
    const p = pending.get(runId);
    if (!p) return;
    clearTimeout(p.timer);
    pending.delete(runId);
    emit('runEvent', p.event);
  };
  const off = services.runs.onEvent((e) => {
    if (e.kind === 'train' && e.event.type === 'progress') {
      const p = pending.get(e.runId);
      if (p) {
        p.event = e;
        return;
      }
      pending.set(e.runId, { event: e, timer: setTimeout(() => flush(e.runId), progressMs) });
      return;
    }
    flush(e.runId);
    emit('runEvent', e);
  });
  return () => {
    off();
    for (const runId of [...pending.keys()]) flush(runId);
  };
}

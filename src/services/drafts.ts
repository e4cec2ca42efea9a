/** Drafts of the writing companion. */
import type { Store } from '../store/store.ts';
import { notFound } from './library.ts';
import type { DraftsService } from './types.ts';

export function createDraftsService(store: Store): DraftsService {
  return {
    async listDrafts() {
      return store.listDrafts();
    },
    async getDraft(id) {
      const d = store.getDraft(id);
      if (!d) throw notFound('draft', id);
      return d;
    },
    async saveDraft(d) {
      // An id names a draft to update: one that is gone (deleted in another window) is not quietly
      // created again under a new id.
      if (d.id !== undefined && !store.getDraft(d.id)) throw notFound('draft', d.id);
      if (d.runId !== undefined && d.runId !== null && !store.getRun(d.runId)) throw notFound('run', d.runId);
      return store.saveDraft(d);
    },
    async deleteDraft(id) {
      if (!store.deleteDraft(id)) throw notFound('draft', id);
    },
  };
}

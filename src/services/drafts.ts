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
      return store.saveDraft(d);
    },
    async deleteDraft(id) {
      if (!store.deleteDraft(id)) throw notFound('draft', id);
    },
  };
}

/** Which view is showing, and the messages the app shows at the top (errors keep the backend's text). */
import { isApiError } from '../../api/errors.ts';

export type ViewName = 'library' | 'train' | 'generate' | 'gallery' | 'companion' | 'inspect';

export interface Notice {
  id: number;
  kind: 'error' | 'info';
  text: string;
  code?: string;
}

export class AppState {
  view = $state<ViewName>('library');
  notices = $state<Notice[]>([]);
  #next = 1;

  go(view: ViewName): void {
    this.view = view;
  }

  notify(text: string, kind: Notice['kind'] = 'info', code?: string): void {
    const n: Notice = { id: this.#next++, kind, text, ...(code ? { code } : {}) };
    this.notices = [...this.notices.slice(-4), n];
    if (kind === 'info') setTimeout(() => this.dismiss(n.id), 4000);
  }

  error(e: unknown): void {
    if (isApiError(e)) this.notify(e.message, 'error', e.code);
    else this.notify(e instanceof Error ? e.message : String(e), 'error');
  }

  dismiss(id: number): void {
    this.notices = this.notices.filter((n) => n.id !== id);
  }
}

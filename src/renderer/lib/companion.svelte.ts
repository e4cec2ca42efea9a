/**
 * The writing companion's state: the drafts (several may be kept: new, switch, rename by title,
 * delete), the current draft (autosaved in the library, the latest restored on start), the
 * text model that suggests, and the suggestions for the text before the cursor (asked for on Tab or
 * after a pause; accepted, cycled or ignored).
 */
import type { Api, Continuation, Draft, ModelChoice } from '../../api/index.ts';
import { modelKey } from './generate.svelte.ts';

export type DraftSummary = Omit<Draft, 'text'>;

const byUpdated = (a: DraftSummary, b: DraftSummary) => b.updated - a.updated || b.id - a.id;

export class CompanionState {
  /** Every draft in the library, the most recently edited first. */
  drafts = $state.raw<DraftSummary[]>([]);
  draftId = $state<number | null>(null);
  title = $state('Untitled draft');
  text = $state('');
  /** 'saved' once the library has the current text. */
  saveState = $state<'saved' | 'unsaved' | 'saving' | 'error'>('saved');
  savedAt = $state<number | null>(null);
  models = $state.raw<ModelChoice[]>([]);
  key = $state<string | null>(null);
  suggestions = $state.raw<Continuation[]>([]);
  /** Which suggestion Tab / Enter would accept. */
  highlighted = $state(0);
  /** Where the suggestions were asked for (the cursor position then). */
  anchor = $state<number | null>(null);
  suggesting = $state(false);
  error = $state<string | null>(null);
  suggestOnPause = $state(true);

  readonly model = $derived(this.models.find((m) => modelKey(m) === this.key) ?? null);

  #api: Api;
  #saveTimer: ReturnType<typeof setTimeout> | null = null;
  #pauseTimer: ReturnType<typeof setTimeout> | null = null;
  #seq = 0;
  #seed = Math.floor(Math.random() * 100_000);
  readonly autosaveMs: number;
  readonly pauseMs: number;
  #saving: Promise<void> | null = null;

  constructor(api: Api, opts: { autosaveMs?: number; pauseMs?: number } = {}) {
    this.#api = api;
    this.autosaveMs = opts.autosaveMs ?? 600;
    this.pauseMs = opts.pauseMs ?? 1500;
  }

  /** The most recently edited draft, and the text models (its own model first). */
  async load(): Promise<void> {
    const [drafts, models] = await Promise.all([this.#api.drafts.list(), this.#api.generate.models()]);
    this.models = models.filter((m) => m.mode === 'text');
    this.drafts = [...drafts].sort(byUpdated);
    const latest = this.drafts[0];
    let d: Draft | null = null;
    if (latest) d = await this.#api.drafts.get({ id: latest.id });
    if (d) this.#show(d);
    const own = d?.runId ? this.models.find((m) => m.runId === d.runId) : undefined;
    const pick = own ?? this.models[0];
    if (!this.models.some((m) => modelKey(m) === this.key)) this.key = pick ? modelKey(pick) : null;
  }

  /** The person typed: schedule the autosave, drop stale suggestions, and maybe suggest after a pause. */
  edited(text: string, cursor: number): void {
    this.text = text;
    this.saveState = 'unsaved';
    if (this.#saveTimer) clearTimeout(this.#saveTimer);
    this.#saveTimer = setTimeout(() => void this.save(), this.autosaveMs);
    this.dismiss();
    if (this.#pauseTimer) clearTimeout(this.#pauseTimer);
    if (this.suggestOnPause && this.model && text.trim()) {
      this.#pauseTimer = setTimeout(() => void this.suggest(cursor), this.pauseMs);
    }
  }

  async save(): Promise<void> {
    if (this.#saveTimer) {
      clearTimeout(this.#saveTimer);
      this.#saveTimer = null;
    }
    // One save at a time (the first creates the draft, later ones update it).
    while (this.#saving) await this.#saving;
    if (this.saveState === 'saved' && this.draftId !== null) return;
    const text = this.text;
    this.saveState = 'saving';
    this.#saving = (async () => {
      try {
        const d = await this.#api.drafts.save({
          ...(this.draftId !== null ? { id: this.draftId } : {}),
          title: this.title.trim() || 'Untitled draft',
          text,
          runId: this.model?.runId ?? null,
        });
        this.draftId = d.id;
        this.savedAt = d.updated;
        this.saveState = this.text === text ? 'saved' : 'unsaved';
        this.drafts = [{ id: d.id, title: d.title, runId: d.runId, updated: d.updated }, ...this.drafts.filter((x) => x.id !== d.id)].sort(byUpdated);
      } catch (e) {
        this.saveState = 'error';
        this.error = e instanceof Error ? e.message : String(e);
      }
    })();
    await this.#saving;
    this.#saving = null;
  }

  /** Shows a draft from the library as the current one. */
  #show(d: Draft): void {
    this.draftId = d.id;
    this.title = d.title;
    this.text = d.text;
    this.savedAt = d.updated;
    this.saveState = 'saved';
    const own = d.runId ? this.models.find((m) => m.runId === d.runId) : undefined;
    if (own) this.key = modelKey(own);
  }

  /** Saves the current draft first; refuses to go on when that failed, so nothing is lost. */
  async #leaveCurrent(): Promise<void> {
    if (this.#pauseTimer) clearTimeout(this.#pauseTimer);
    this.dismiss();
    if (this.saveState !== 'saved' || this.#saving) await this.save();
    if (this.saveState === 'error')
      throw new Error(`The current draft could not be saved (${this.error ?? 'unknown error'}); it stays open so nothing is lost.`);
  }

  /** Switches to another draft (the current one is saved first). */
  async open(id: number): Promise<void> {
    if (id === this.draftId) return;
    await this.#leaveCurrent();
    this.#show(await this.#api.drafts.get({ id }));
  }

  /** Starts a new, empty draft (the current one is saved first); it is in the library at once. */
  async newDraft(title = 'Untitled draft'): Promise<void> {
    await this.#leaveCurrent();
    const d = await this.#api.drafts.save({ title, text: '', runId: this.model?.runId ?? null });
    this.drafts = [{ id: d.id, title: d.title, runId: d.runId, updated: d.updated }, ...this.drafts.filter((x) => x.id !== d.id)].sort(byUpdated);
    this.#show(d);
  }

  /** Deletes a draft; deleting the current one opens the latest remaining one (or a blank page). */
  async removeDraft(id: number): Promise<void> {
    const current = id === this.draftId;
    if (current) {
      // Its pending autosave must not bring it back.
      if (this.#saveTimer) clearTimeout(this.#saveTimer);
      this.#saveTimer = null;
      while (this.#saving) await this.#saving;
      if (this.#pauseTimer) clearTimeout(this.#pauseTimer);
      this.dismiss();
    }
    await this.#api.drafts.remove({ id });
    this.drafts = this.drafts.filter((x) => x.id !== id);
    if (!current) return;
    const next = this.drafts[0];
    if (next) {
      this.#show(await this.#api.drafts.get({ id: next.id }));
    } else {
      this.draftId = null;
      this.title = 'Untitled draft';
      this.text = '';
      this.savedAt = null;
      this.saveState = 'saved';
    }
  }

  /** Ask for continuations of the text before `cursor`. */
  async suggest(cursor: number): Promise<void> {
    if (this.#pauseTimer) clearTimeout(this.#pauseTimer);
    const m = this.model;
    if (!m) {
      this.error = 'Suggestions need a model trained on running text: train one in the Train view.';
      return;
    }
    const seq = ++this.#seq;
    this.suggesting = true;
    this.error = null;
    this.anchor = cursor;
    try {
      const r = await this.#api.generate.continuations({
        runId: m.runId,
        kind: m.kind,
        requestId: 'companion',
        context: this.text.slice(0, cursor),
        count: 3,
        length: 80,
        seed: this.#seed++,
      });
      if (seq !== this.#seq) return;
      this.suggestions = r.items;
      this.highlighted = 0;
    } catch (e) {
      if (seq === this.#seq) this.error = e instanceof Error ? e.message : String(e);
    } finally {
      if (seq === this.#seq) this.suggesting = false;
    }
  }

  cycle(step: number): void {
    const n = this.suggestions.length;
    if (n) this.highlighted = (this.highlighted + step + n) % n;
  }

  /** Insert a suggestion at the anchor; returns the new cursor position. */
  accept(i = this.highlighted): number | null {
    const s = this.suggestions[i];
    if (!s || this.anchor === null) return null;
    const at = this.anchor;
    this.text = this.text.slice(0, at) + s.text + this.text.slice(at);
    this.dismiss();
    this.saveState = 'unsaved';
    void this.save();
    return at + s.text.length;
  }

  dismiss(): void {
    this.#seq++;
    this.suggestions = [];
    this.suggesting = false;
    this.anchor = null;
  }

  destroy(): void {
    if (this.#pauseTimer) clearTimeout(this.#pauseTimer);
    if (this.saveState === 'unsaved') void this.save();
  }
}

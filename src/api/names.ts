/**
 * The operation and event names as plain data, for the preload script: it must stay small and
 * sandbox-safe, so it does not import the zod schemas. test/api checks these lists equal the
 * contract's keys exactly.
 */
export const OPERATION_NAMES = {
  app: ['info'],
  library: ['list', 'get', 'inspectFile', 'guessMode', 'importFile', 'importText', 'previewTable', 'builtins', 'builtin', 'countBabyNames', 'rename', 'remove'],
  runs: ['list', 'get', 'metrics', 'estimate', 'start', 'resume', 'pause', 'continue', 'stop', 'rename', 'remove', 'copy'],
  gallery: ['list', 'save', 'saveMany', 'setFavorite', 'setNote', 'remove', 'restore', 'export'],
  generate: ['models', 'lines', 'nameCard', 'text', 'cancel', 'continuations', 'learnStyle'],
  drafts: ['list', 'get', 'save', 'remove'],
  inspect: ['defaultText', 'run', 'cell', 'cancel', 'evolution', 'attention', 'attentionAt'],
  shell: ['openCorpusDialog', 'openExternal'],
} as const;

export const EVENT_NAMES = ['runEvent', 'importProgress', 'libraryChanged', 'inspectProgress', 'generateText'] as const;

export const OP_PREFIX = 'charmer:op:';
export const EVENT_PREFIX = 'charmer:event:';

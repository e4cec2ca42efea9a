// The layers of src/ and the directions imports may take between them (docs/ARCHITECTURE.md says
// why). Run by `npm run layers`, .ci/run and test/layers/layers.test.ts. Each rule names a layer and
// lists every part of src/ it may NOT reach; imports of packages and node:* are not this file's business
// (the renderer's tsconfig has no Node types, which keeps node:* out of what it loads).

/** A path pattern for the given top-level folders of src/. */
const under = (...dirs) => `^src/(${dirs.join('|')})/`;
/** Everything in src/ outside the allowed folders. */
const outside = (...dirs) => ({ path: '^src/', pathNot: under(...dirs) });

/** The services' declarations: plain types of what they answer (no code). */
const SERVICE_DECLARATIONS = '^src/services/types\\.ts$';

/** The part of src/api that only Node shells may load (it reads files and holds the services). */
const API_NODE = '^src/api/node/';

module.exports = {
  forbidden: [
    {
      name: 'common-is-neutral',
      comment: 'src/common holds plain declarations every layer may import; it imports nothing of ours outside itself.',
      severity: 'error',
      from: { path: under('common') },
      to: outside('common'),
    },
    {
      name: 'engine-imports-only-common',
      comment: 'The engine is a char-LM library: no store, no services, no shells.',
      severity: 'error',
      from: { path: under('engine') },
      to: outside('engine', 'common'),
    },
    {
      name: 'store-imports-common-and-engine-types',
      comment: 'The store owns its rows; from the engine it may take plain types only (a config it stores), never code.',
      severity: 'error',
      from: { path: under('store') },
      to: outside('store', 'common', 'engine'),
    },
    {
      name: 'store-takes-only-types-from-engine',
      severity: 'error',
      from: { path: under('store') },
      to: { path: under('engine'), dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'services-import-store-engine-common',
      comment: 'Services never import the worker: they start its processes by path and speak the protocols in src/common.',
      severity: 'error',
      from: { path: under('services') },
      to: outside('services', 'store', 'engine', 'common'),
    },
    {
      name: 'worker-imports-engine-common',
      comment: 'Worker threads and processes run the engine and speak the protocols in src/common.',
      severity: 'error',
      from: { path: under('worker'), pathNot: '^src/worker/train-process\\.ts$' },
      to: outside('worker', 'engine', 'common'),
    },
    {
      name: 'training-process-entry',
      comment:
        "The training process's entry is that process's shell: it opens the library and records its own run " +
        '(store, services.recorder), as DESIGN.md asks; nothing imports it (services start it by path).',
      severity: 'error',
      from: { path: '^src/worker/train-process\\.ts$' },
      to: outside('worker', 'engine', 'common', 'store', 'services'),
    },
    {
      name: 'api-is-browser-safe',
      comment: 'What the renderer may load of src/api: the contract, names, errors, define. It knows only src/common.',
      severity: 'error',
      from: { path: '^src/api/', pathNot: API_NODE },
      to: { path: '^src/', pathNot: `^src/(api|common)/|${SERVICE_DECLARATIONS}` },
    },
    {
      name: 'api-takes-only-types-from-services',
      comment:
        "The contract's result types are the services' declarations (src/services/types.ts, plain: the renderer's " +
        'Node-free type check reads it); a type import vanishes at build time, so nothing of the services reaches the page.',
      severity: 'error',
      from: { path: '^src/api/', pathNot: API_NODE },
      to: { path: SERVICE_DECLARATIONS, dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'api-browser-part-never-loads-node-part',
      severity: 'error',
      from: { path: '^src/api/', pathNot: API_NODE },
      to: { path: API_NODE },
    },
    {
      name: 'api-node-imports-services-common',
      comment:
        'The handlers bind the contract to the services; like the CLI they may call engine functions that need no ' +
        "library (guessing a file's mode from its head, the list of built-in corpora).",
      severity: 'error',
      from: { path: API_NODE },
      to: outside('api', 'services', 'engine', 'common'),
    },
    {
      name: 'renderer-imports-api-common',
      comment: 'The renderer talks only to the typed Api: never to services, store, engine, or the Node part of src/api.',
      severity: 'error',
      from: { path: under('renderer') },
      to: { path: '^src/', pathNot: `^src/(renderer|api|common)/` },
    },
    {
      name: 'renderer-never-loads-api-node',
      severity: 'error',
      from: { path: under('renderer') },
      to: { path: API_NODE },
    },
    {
      name: 'preload-imports-api-common',
      comment: "The sandboxed preload builds one method per operation from the contract's names.",
      severity: 'error',
      from: { path: under('preload') },
      to: { path: '^src/', pathNot: `^src/(preload|api|common)/` },
    },
    {
      name: 'preload-never-loads-api-node',
      severity: 'error',
      from: { path: under('preload') },
      to: { path: API_NODE },
    },
    {
      name: 'shells-import-api-services-common',
      comment: 'The Electron main process and browser mode wire the contract to the services.',
      severity: 'error',
      from: { path: under('main', 'server') },
      to: outside('main', 'server', 'api', 'services', 'common'),
    },
    {
      name: 'cli-imports-api-services-engine-common',
      comment:
        'The command line is a shell that also runs the engine in its own process (train, sample, baseline, ' +
        'info in the foreground), so it may import the engine; the library it reaches only through services.',
      severity: 'error',
      from: { path: under('cli') },
      to: outside('cli', 'api', 'services', 'engine', 'common', 'bench', 'server'),
    },
    {
      name: 'bench-imports-engine-common',
      comment: 'Benchmarks measure the engine.',
      severity: 'error',
      from: { path: under('bench') },
      to: outside('bench', 'engine', 'common'),
    },
    {
      name: 'no-shell-imports-another',
      comment: 'Shells share the api and services, never each other; `charmer serve` (the CLI starting browser mode) is the one exception.',
      severity: 'error',
      from: { path: under('main', 'server', 'preload') },
      to: { path: under('main', 'server', 'cli', 'preload'), pathNot: '^src/$1/' },
    },
    {
      name: 'cli-starts-only-browser-mode',
      severity: 'error',
      from: { path: under('cli') },
      to: { path: under('main', 'preload') },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|out|resources)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.mjs', '.js', '.svelte', '.json'],
    },
    extraExtensionsToScan: ['.svelte'],
  },
};

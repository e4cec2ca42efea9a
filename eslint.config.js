// ESLint: typescript-eslint's recommended rules (plus the type-aware ones that catch real defects:
// promises nobody awaits or catches, async functions passed where a callback's result is ignored)
// and eslint-plugin-svelte's recommended rules for the renderer. Style is Prettier's business
// (`npm run format:check`), so no formatting rules here. What each tool checks: docs/ARCHITECTURE.md.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['out/', 'dist/', 'release/', 'coverage/', 'node_modules/', 'resources/', 'build/', '.charmer-test/', 'test-results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...svelte.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
    rules: {
      // `_name` marks a parameter or binding kept on purpose (a signature to honour, a value destructured away).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      // Non-null assertions are used where a lookup is known to succeed (a DOM root, a map filled just above).
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Caught errors are often deliberately ignored (best-effort clean-up): an empty catch says so.
      'no-empty': ['error', { allowEmptyCatch: true }],
      'prefer-const': ['error', { destructuring: 'all' }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
  {
    // Type-aware rules for the TypeScript sources: a floating promise loses its error (an unhandled
    // rejection kills a worker); a misused promise (async callback where void is expected) does the same.
    files: ['src/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': ['error', { ignoreVoid: true }],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { attributes: false, arguments: false } }],
    },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: { parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'] } },
    rules: {
      // Props are declared with `let { ... } = $props()` as Svelte's own docs do; svelte/prefer-const
      // knows the runes and still catches every other binding never reassigned.
      'prefer-const': 'off',
      'svelte/prefer-const': ['error', { destructuring: 'all' }],
      // The state classes keep Sets and Maps in $state.raw and replace them whole on change (never
      // mutate them in place), so the reactive SvelteSet/SvelteMap this rule asks for would only add cost.
      'svelte/prefer-svelte-reactivity': 'off',
    },
  },
);

// ESLint flat config for webraft.
//
// Everything is linted with typescript-eslint's recommended rules (syntax-only, no type
// information, so `eslint .` stays fast). `src/core/**` gets extra restrictions: the Raft core is
// a pure, deterministic state machine (DESIGN.md, decision 1), so it may not read a clock, draw
// unseeded randomness, schedule timers or await. Those effects belong to the driver in
// `src/runtime`, which injects a `Clock` and a seeded `Random`.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

/** Globals the core must not touch: clocks and schedulers make replay non-deterministic. */
const coreForbiddenGlobals = [
  'Date',
  'performance',
  'setTimeout',
  'clearTimeout',
  'setInterval',
  'clearInterval',
  'setImmediate',
  'clearImmediate',
  'queueMicrotask',
  'requestAnimationFrame',
  'requestIdleCallback',
].map((name) => ({
  name,
  message:
    'src/core is pure and deterministic: no clocks or timers. Take time as tick() input; the driver in src/runtime owns timers.',
}));

/** The same effects reached through a global object, e.g. `globalThis.setTimeout(...)`. */
const coreForbiddenProperties = [
  {
    object: 'Math',
    property: 'random',
    message: 'src/core is deterministic: use the injected seeded Random (src/core/random.ts).',
  },
  ...['globalThis', 'window', 'self', 'global'].flatMap((object) =>
    coreForbiddenGlobals.map(({ name, message }) => ({ object, property: name, message })),
  ),
];

const noAwaitMessage =
  'src/core never awaits: return a Ready batch and let the driver in src/runtime do the I/O.';

export default defineConfig(
  globalIgnores(['node_modules/', 'dist/', 'coverage/', 'bench/results/', '.scratch/']),
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { prefer: 'type-imports', fixStyle: 'separate-type-imports' },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
        },
      ],
    },
  },
  {
    files: ['src/core/**/*.{ts,tsx,js,mjs,cjs}'],
    rules: {
      'no-restricted-globals': ['error', ...coreForbiddenGlobals],
      'no-restricted-properties': ['error', ...coreForbiddenProperties],
      'no-restricted-syntax': [
        'error',
        { selector: 'AwaitExpression', message: noAwaitMessage },
        { selector: 'ForOfStatement[await=true]', message: noAwaitMessage },
        { selector: ':function[async=true]', message: noAwaitMessage },
      ],
    },
  },
);

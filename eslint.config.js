import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** A string that starts like a SQL statement (the selector's regular expression). */
const SQL = String.raw`/^\s*(SELECT|INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER|TRUNCATE|SHOW|LOCK|UNLOCK|DO)\s/`;
/** Temporal's packages, allowed as types (the engine names a Logger or a Client it is given). */
const TEMPORAL = {
  group: ['@temporalio/*'],
  allowTypeImports: true,
  message: 'no Temporal below activities/ (types only)',
};

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.state/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        URL: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  // Imports run one way: core <- store <- engine <- activities <- workflows/worker, client <- cli. A wrong-way import
  // fails lint; test/unit/import-boundaries.test.ts keeps these rules honest.
  layer('core/**/*.ts', 'core is the domain and the service-author API: it imports nothing of ours', [
    '**/store/**',
    '**/engine/**',
    '**/activities/**',
    '**/workflows/**',
    '**/worker/**',
    '**/client/**',
    '**/cli/**',
  ]),
  layer(
    'store/**/*.ts',
    'the store runs SQL for the layers above it: it may import core only',
    ['**/engine/**', '**/activities/**', '**/workflows/**', '**/worker/**', '**/client/**', '**/cli/**'],
    TEMPORAL,
  ),
  layer(
    'engine/**/*.ts',
    'the engine moves jobs without Temporal: it may import core and store, and Temporal only as types',
    ['**/activities/**', '**/workflows/**', '**/worker/**', '**/client/**', '**/cli/**'],
    TEMPORAL,
  ),
  layer('activities/**/*.ts', 'activities may import core, store and engine', [
    '**/workflows/**',
    '**/worker/**',
    '**/client/**',
    '**/cli/**',
  ]),
  layer('worker/**/*.ts', 'the worker may not import the client (operators and frontends) or the CLI', [
    '**/client/**',
    '**/cli/**',
  ]),
  // The client is a library (frontends, operators' programs, the CLI): it never starts a worker or prints for one.
  layer('client/**/*.ts', 'the client may import core, store, engine and activities; not the worker or the CLI', [
    '**/worker/**',
    '**/cli/**',
  ]),
  // The frontend API (saliflow/client): what a web frontend loads, so no engine, worker or CLI.
  layer('client/{submit,job-names}.ts', 'the frontend API imports core, store and the one way a job starts only', [
    '**/engine/**',
    '**/worker/**',
    '**/workflows/**',
    '**/cli/**',
    '**/activities/*',
    '!**/activities/job-start.js',
  ]),
  // The service-author test kit (saliflow/testing): no MySQL, no Temporal, so core and the job's log only.
  layer('client/testing.ts', 'the test kit imports core and engine/job-logger.ts only (no MySQL, no Temporal)', [
    '**/store/**',
    '**/activities/**',
    '**/workflows/**',
    '**/worker/**',
    '**/cli/**',
    '**/engine/*',
    '!**/engine/job-logger.js',
    '@temporalio/*',
    'mysql2*',
  ]),
  // Every SQL statement saliflow runs lives in store/ (a statement elsewhere fails lint).
  {
    files: [
      'core/**/*.ts',
      'engine/**/*.ts',
      'activities/**/*.ts',
      'workflows/**/*.ts',
      'worker/**/*.ts',
      'client/**/*.ts',
      'cli/**/*.ts',
    ],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: `Literal[value=${SQL}]`, message: 'SQL belongs in store/: add or extend a store module' },
        {
          selector: `TemplateElement[value.raw=${SQL}]`,
          message: 'SQL belongs in store/: add or extend a store module',
        },
      ],
    },
  },
  {
    // Workflow code is bundled and replayed: no Node built-ins, no clocks, no randomness; activities as types only.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*', 'fs', 'path', 'mysql2*', 'execa', 'nodemailer'], message: 'workflow code is replayed' },
            {
              group: ['**/worker/**', '**/client/**', '**/cli/**'],
              message: 'workflows import core, and activities as types',
            },
            {
              group: ['**/activities/**', '**/engine/**', '**/store/**'],
              allowTypeImports: true,
              message: 'activities, the engine and the store run outside the workflow',
            },
          ],
        },
      ],
    },
  },
  // What a service author writes: the public API only (saliflow/core), never the engine.
  layer('examples/**/*.ts', 'examples use only the public API (core/index.js, i.e. saliflow/core)', [
    '**/activities/**',
    '**/workflows/**',
    '**/worker/**',
    '**/client/**',
    '**/cli/**',
    '**/core/*',
    '!**/core/index.js',
  ]),
);

function layer(files, message, group, ...more) {
  return { files: [files], rules: { 'no-restricted-imports': ['error', { patterns: [{ group, message }, ...more] }] } };
}

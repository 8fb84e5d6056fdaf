import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
  // Imports run one way: core <- activities <- workflows/worker <- client. A wrong-way import fails lint.
  layer('core/**/*.ts', 'core is the domain and the service-author API: it imports nothing of ours', [
    '**/activities/**',
    '**/workflows/**',
    '**/worker/**',
    '**/client/**',
  ]),
  layer('activities/**/*.ts', 'activities may import core only', ['**/workflows/**', '**/worker/**', '**/client/**']),
  layer('worker/**/*.ts', 'the worker may not import the client (operators and frontends)', ['**/client/**']),
  {
    // Workflow code is bundled and replayed: no Node built-ins, no clocks, no randomness; activities as types only.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*', 'fs', 'path', 'mysql2*', 'execa', 'nodemailer'], message: 'workflow code is replayed' },
            { group: ['**/worker/**', '**/client/**'], message: 'workflows import core, and activities as types' },
            { group: ['**/activities/**'], allowTypeImports: true, message: 'activities run outside the workflow' },
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
    '**/core/*',
    '!**/core/index.js',
  ]),
);

function layer(files, message, group) {
  return { files: [files], rules: { 'no-restricted-imports': ['error', { patterns: [{ group, message }] }] } };
}

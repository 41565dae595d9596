import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'web/dist/**'] },
  js.configs.recommended,
  { languageOptions: { globals: { ...globals.node } } },
  // The demo pages run in the browser only (the client SDK they bundle is checked for both, by web/tsconfig.json).
  { files: ['web/**/*.ts'], languageOptions: { globals: { ...globals.browser } } },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/ban-ts-comment': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: false }],
      // Handlers set up before a node registers read its registration later; that is not a const.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
);

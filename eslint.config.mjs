// @ts-check
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'out/', '.cache/', 'test-artifacts/', 'demo/**/*.js'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'eqeqeq': ['error', 'smart'],
      'no-console': 'off',
    },
  },
  {
    // The VS Code API stays at the edge: the commands, the panels, the settings facade and the
    // entry point. Everything else (engine, model formats, compute workers, CLI, webview) runs
    // without VS Code, in worker threads and in the CLI.
    files: ['src/**/*.ts'],
    ignores: ['src/extension/extension.ts', 'src/extension/commands/**', 'src/extension/panel/**', 'src/extension/settings/settings.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: 'vscode', message: 'Only extension.ts, commands/, panel/ and settings/settings.ts may use the VS Code API; pass what you need in.' }],
      }],
    },
  },
);

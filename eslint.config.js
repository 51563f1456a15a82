// Type-aware lint for the whole workspace. Two project rules beyond the recommended sets:
//  - no default exports (house style: named exports and curated barrels);
//  - the package graph is one way, cli → sigstore, ssh → core: core imports no sibling, plugins import no cli.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const siblings = (names) =>
  names.flatMap((n) => [
    { group: [`@lading/${n}`, `@lading/${n}/*`], message: `the package graph is one way (cli → sigstore, ssh → core)` },
    { group: [`**/packages/${n}/**`, `../../${n}/**`, `../${n}/**`], message: `no relative imports across packages` },
  ]);

const oneWay = (names) => ({
  'no-restricted-imports': ['error', { patterns: siblings(names) }],
});

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '.tools/**', 'coverage/**', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      globals: { ...globals.node },
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js', '*.ts', 'packages/cli/bin/*.js', 'scripts/*.mjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportDefaultDeclaration', message: 'use named exports (house style)' },
        { selector: 'ExportSpecifier[exported.name="default"]', message: 'use named exports (house style)' },
      ],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  { files: ['packages/core/**'], rules: oneWay(['sigstore', 'ssh', 'cli', 'test']) },
  { files: ['packages/sigstore/**', 'packages/ssh/**'], rules: oneWay(['cli', 'test']) },
  { files: ['packages/sigstore/**'], rules: oneWay(['ssh', 'cli', 'test']) },
  { files: ['packages/ssh/**'], rules: oneWay(['sigstore', 'cli', 'test']) },
  { files: ['packages/cli/**'], rules: oneWay(['test']) },
  {
    // Config files of tools (vitest, eslint) are the one place a default export is the tool's contract.
    files: ['*.config.js', '*.config.ts', '**/vitest.config.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  { files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
);

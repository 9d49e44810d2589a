// @ts-check
/**
 * Builds the extension bundle (dist/extension.js, vscode-languageclient inlined, `vscode`
 * external) and, with `--tests`, each unit test file into dist/test/ for `node --test`.
 */
import { build } from 'esbuild';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const production = process.argv.includes('--production');
const tests = process.argv.includes('--tests');

/** @type {import('esbuild').BuildOptions} */
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: !production,
  logLevel: 'warning',
};

if (tests) {
  const testDir = join('extension', 'test');
  const entryPoints = readdirSync(testDir)
    .filter((name) => name.endsWith('.test.ts'))
    .map((name) => join(testDir, name));
  // Unit tests cover the pure modules only: leaving `vscode` unresolved makes a test that
  // pulls in VS Code glue fail loudly instead of passing against a fake.
  await build({ ...common, entryPoints, outdir: join('dist', 'test'), external: ['vscode'] });
} else {
  await build({
    ...common,
    entryPoints: [join('extension', 'src', 'extension.ts')],
    outfile: join('dist', 'extension.js'),
    external: ['vscode'],
    minify: production,
  });
}

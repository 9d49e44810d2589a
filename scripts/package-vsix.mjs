// @ts-check
/**
 * `npm run package`: builds evoselfcode.vsix with the Python packages inside, as Microsoft's
 * python-tools extension template does. The packages the server imports (server, models,
 * evolution, evaluation) and pyproject.toml (the "Install dependencies" fix installs its
 * requirements) are copied to bundled/python, which the extension puts on PYTHONPATH.
 *
 * Only Python packages are copied (folders with an __init__.py, so model weights placed under
 * models/<name>/ stay out), and of their files only sources and the package data that
 * pyproject.toml ships; caches never. The one exception is the model the repository ships
 * (SHIPPED_MODELS): its files, not its .work/ training state, go beside the models package,
 * where a bare model name is looked up, so the installed extension completes out of the box.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const TARGET = join(ROOT, 'bundled', 'python');
const PACKAGES = ['server', 'models', 'evolution', 'evaluation'];
// The package-data patterns of pyproject.toml ([tool.setuptools.package-data]), plus sources.
const SHIPPED = /\.(py|json|yaml|html|jsonl|txt)$/;
const OUTPUT = 'evoselfcode.vsix';
const SHIPPED_MODELS = ['evoselfcode-small', 'evoselfcode-small-chat'];

/**
 * Copies one Python package tree; returns the number of files copied.
 * @param {string} source @param {string} target
 */
function copyPackage(source, target) {
  let count = 0;
  mkdirSync(target, { recursive: true });
  for (const name of readdirSync(source)) {
    const from = join(source, name);
    const to = join(target, name);
    if (statSync(from).isDirectory()) {
      if (name === '__pycache__' || !existsSync(join(from, '__init__.py'))) continue;
      count += copyPackage(from, to);
    } else if (SHIPPED.test(name)) {
      copyFileSync(from, to);
      count += 1;
    }
  }
  return count;
}

rmSync(join(ROOT, 'bundled'), { recursive: true, force: true });
let files = 0;
for (const name of PACKAGES) {
  const source = join(ROOT, name);
  if (!existsSync(join(source, '__init__.py'))) {
    throw new Error(`${relative(ROOT, source)} is not a Python package`);
  }
  files += copyPackage(source, join(TARGET, name));
}
copyFileSync(join(ROOT, 'pyproject.toml'), join(TARGET, 'pyproject.toml'));
for (const name of SHIPPED_MODELS) {
  const source = join(ROOT, 'models', name);
  if (!existsSync(join(source, 'config.json'))) {
    throw new Error(`${relative(ROOT, source)} has no model: restore it with git checkout`);
  }
  mkdirSync(join(TARGET, 'models', name));
  for (const file of readdirSync(source)) {
    if (!file.startsWith('.') && statSync(join(source, file)).isFile()) {
      copyFileSync(join(source, file), join(TARGET, 'models', name, file));
      files += 1;
    }
  }
}
console.log(
  `bundled ${files} files of ${[...PACKAGES, ...SHIPPED_MODELS].join(', ')} into ${relative(ROOT, TARGET)}`,
);

if (!existsSync(join(ROOT, 'dist', 'extension.js'))) {
  throw new Error('dist/extension.js is missing: run `npm run bundle` first');
}
const vsce = spawnSync(
  process.execPath,
  [
    join(ROOT, 'node_modules', '@vscode', 'vsce', 'vsce'),
    'package',
    '--no-dependencies',
    '--allow-missing-repository',
    '--skip-license',
    '--out',
    OUTPUT,
  ],
  { cwd: ROOT, stdio: 'inherit' },
);
if (vsce.status !== 0) process.exit(vsce.status ?? 1);

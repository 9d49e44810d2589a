import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { findServerLayout } from '../src/common/layout';

function folder(files: string[]): string {
  const root = mkdtempSync(join(tmpdir(), 'layout-'));
  for (const file of files) {
    mkdirSync(join(root, file, '..'), { recursive: true });
    writeFileSync(join(root, file), '');
  }
  return root;
}

test('a checkout runs its own sources (even after npm run package made bundled/)', () => {
  const root = folder([
    'pyproject.toml',
    'server/__init__.py',
    'bundled/python/server/__init__.py',
  ]);
  assert.deepEqual(findServerLayout(root), { pythonRoot: root, checkoutRoot: root });
});

test('an installed .vsix runs bundled/python and has no checkout', () => {
  const root = folder([
    'package.json',
    'bundled/python/server/__init__.py',
    'bundled/python/pyproject.toml',
  ]);
  assert.deepEqual(findServerLayout(root), { pythonRoot: join(root, 'bundled', 'python') });
});

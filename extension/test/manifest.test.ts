import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

// The manifest and the code must agree: a contributed command nobody registers shows in the
// palette and fails with "command not found"; a registered one not contributed is unreachable.
const manifest = JSON.parse(readFileSync('package.json', 'utf8'));
const contributed: string[] = manifest.contributes.commands.map(
  (c: { command: string }) => c.command,
);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

const registered = new Set(
  sources(join('extension', 'src')).flatMap((file) =>
    [...readFileSync(file, 'utf8').matchAll(/registerCommand\(\s*'([^']+)'/g)].map((m) => m[1]),
  ),
);

test('every contributed command is registered by the extension', () => {
  const missing = contributed.filter((command) => !registered.has(command));
  assert.deepEqual(missing, []);
});

test('every registered command is contributed', () => {
  const extra = [...registered].filter((command) => !contributed.includes(command));
  assert.deepEqual(extra, []);
});

test('menus and keybindings only name contributed commands', () => {
  const named = [
    ...Object.values(
      manifest.contributes.menus as Record<string, Array<{ command: string }>>,
    ).flat(),
    ...(manifest.contributes.keybindings ?? []),
  ].map((entry: { command: string }) => entry.command);
  assert.ok(named.length > 0);
  assert.deepEqual(
    named.filter((command) => !contributed.includes(command)),
    [],
  );
});

test('the bundle entry point and the language client version are the ones the code expects', () => {
  assert.equal(manifest.main, './dist/extension.js');
  assert.match(manifest.dependencies['vscode-languageclient'], /^\^11\./);
  assert.ok(manifest.activationEvents.includes('onLanguage:python'));
});

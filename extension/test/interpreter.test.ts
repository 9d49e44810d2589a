import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseInterpreter, expandPathSetting, venvPython } from '../src/common/interpreter';

test('the setting wins over everything', () => {
  const choice = chooseInterpreter({
    setting: '/opt/py/bin/python',
    checkoutPython: '/repo/.venv/bin/python',
    pythonExtension: '/usr/bin/python3.12',
    platform: 'linux',
  });
  assert.deepEqual(choice, { command: '/opt/py/bin/python', source: 'setting' });
});

test('then the checkout venv, then the Python extension, then python3', () => {
  assert.equal(
    chooseInterpreter({
      setting: ' ',
      checkoutPython: '/repo/.venv/bin/python',
      pythonExtension: '/x',
      platform: 'linux',
    }).source,
    'checkout',
  );
  assert.deepEqual(
    chooseInterpreter({ setting: '', pythonExtension: '/x/python', platform: 'linux' }),
    {
      command: '/x/python',
      source: 'pythonExtension',
    },
  );
  assert.deepEqual(chooseInterpreter({ setting: '', platform: 'linux' }), {
    command: 'python3',
    source: 'default',
  });
  assert.equal(chooseInterpreter({ setting: '', platform: 'win32' }).command, 'python');
});

test('venv interpreter paths per platform', () => {
  assert.equal(venvPython('/repo', 'linux'), '/repo/.venv/bin/python');
  assert.match(venvPython('C:\\repo', 'win32'), /\.venv[\\/]Scripts[\\/]python\.exe$/);
});

test('path settings expand ~, ${userHome}, ${workspaceFolder} and relative paths', () => {
  const context = { home: '/home/ana', workspaceFolder: '/work/proj' };
  assert.equal(expandPathSetting('~/venv/bin/python', context), '/home/ana/venv/bin/python');
  assert.equal(expandPathSetting('${userHome}/py', context), '/home/ana/py');
  assert.equal(
    expandPathSetting('${workspaceFolder}/.venv/bin/python', context),
    '/work/proj/.venv/bin/python',
  );
  assert.equal(expandPathSetting('.venv/bin/python', context), '/work/proj/.venv/bin/python');
  assert.equal(expandPathSetting('python3.11', context), 'python3.11');
  assert.equal(expandPathSetting('   ', context), '');
});

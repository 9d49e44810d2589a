import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { InterpreterChoice } from '../src/common/interpreter';
import {
  describeExit,
  diagnosePreflight,
  diagnoseServerExit,
  diagnoseSpawnError,
  parsePreflightOutput,
  PREFLIGHT_SCRIPT,
  PreflightReport,
} from '../src/common/startDiagnosis';

const interpreter: InterpreterChoice = { command: '/venv/bin/python', source: 'setting' };
const requirements = [
  { spec: 'pygls>=2.1,<3', name: 'pygls' },
  { spec: 'torch>=2.4', name: 'torch' },
];
const context = { interpreter, requirements, pythonRoot: '/ext/bundled/python' };
const healthy: PreflightReport = {
  version: [3, 11, 4],
  executable: '/venv/bin/python',
  missing: [],
  serverOrigin: '/ext/bundled/python/server/__init__.py',
  externallyManaged: false,
};

test('a healthy interpreter has no problem', () => {
  assert.equal(diagnosePreflight(healthy, context), undefined);
});

test('an old Python asks for another interpreter and names both versions', () => {
  const problem = diagnosePreflight({ ...healthy, version: [3, 8, 10] }, context)!;
  assert.match(problem.reason, /Python 3\.8\.10 .* too old.*3\.10/);
  assert.deepEqual(problem.fixes, ['selectInterpreter', 'showLogs']);
});

test('missing packages offer to install exactly the missing requirement specs', () => {
  const problem = diagnosePreflight({ ...healthy, missing: ['pygls'] }, context)!;
  assert.match(problem.reason, /lacks the Python packages .*pygls/);
  assert.equal(problem.fixes[0], 'installDependencies');
  assert.deepEqual(problem.missing, ['pygls>=2.1,<3']);
});

test('a system Python that pip may not change is not offered pip', () => {
  const problem = diagnosePreflight(
    { ...healthy, missing: ['pygls'], externallyManaged: true },
    context,
  )!;
  assert.ok(!problem.fixes.includes('installDependencies'));
  assert.match(problem.reason, /virtual environment/);
});

test("another package named 'server' shadowing the bundled one is reported", () => {
  const problem = diagnosePreflight(
    { ...healthy, serverOrigin: '/usr/lib/python3/site-packages/server/__init__.py' },
    context,
  )!;
  assert.match(problem.reason, /another package named "server"/);
});

test('spawn errors say the interpreter is missing or not executable', () => {
  const enoent = Object.assign(new Error('spawn /nope ENOENT'), { code: 'ENOENT' });
  assert.match(
    diagnoseSpawnError(enoent, interpreter).reason,
    /not found: \/venv\/bin\/python \(the evoselfcode\.python setting\)/,
  );
  const eacces = Object.assign(new Error('EACCES'), { code: 'EACCES' });
  assert.match(diagnoseSpawnError(eacces, interpreter).reason, /not executable/);
});

test('a crash on import offers the install; other crashes quote the error line', () => {
  const missing = diagnoseServerExit([
    'Traceback (most recent call last):',
    '  File "x.py", line 1, in <module>',
    "ModuleNotFoundError: No module named 'pygls'",
  ]);
  assert.match(missing.reason, /could not import the Python module "pygls"/);
  assert.equal(missing.fixes[0], 'installDependencies');
  const other = diagnoseServerExit(
    ['INFO starting', 'RuntimeError: boom happened', ''],
    describeExit(1, null),
  );
  assert.equal(other.reason, 'The server stopped (exit code 1): RuntimeError: boom happened');
  const killed = diagnoseServerExit([], describeExit(null, 'SIGKILL'));
  assert.equal(killed.reason, 'The server stopped (signal SIGKILL) without saying why.');
  assert.deepEqual(killed.fixes, ['showLogs', 'restart']);
});

test('parsePreflightOutput takes the last line and rejects junk', () => {
  const report = parsePreflightOutput(
    'noise\n{"version":[3,12,1],"executable":"/p","missing":[]}\n',
  );
  assert.deepEqual(report.version, [3, 12, 1]);
  assert.throws(() => parsePreflightOutput('{"hello": 1}'), /unexpected preflight output/);
  assert.throws(() => parsePreflightOutput('Traceback...'));
});

// The preflight script itself, run by the project's real interpreter.
const python = resolve(process.env.EVOSELFCODE_TEST_PYTHON ?? '.venv/bin/python');

test('the preflight script reports version, missing distributions and where server comes from', () => {
  assert.ok(
    existsSync(python),
    `${python} is missing: run make setup (or set EVOSELFCODE_TEST_PYTHON)`,
  );
  const root = mkdtempSync(join(tmpdir(), 'preflight-'));
  mkdirSync(join(root, 'server'));
  writeFileSync(join(root, 'server', '__init__.py'), '');
  const names = JSON.stringify(['pygls', 'PyYAML', 'no-such-dist-evoselfcode']);
  const run = spawnSync(python, ['-c', PREFLIGHT_SCRIPT, names], {
    encoding: 'utf8',
    env: { ...process.env, PYTHONPATH: root },
    cwd: root,
  });
  assert.equal(run.status, 0, run.stderr);
  const report = parsePreflightOutput(run.stdout);
  assert.ok(report.version[0] === 3 && report.version[1] >= 10);
  assert.deepEqual(report.missing, ['no-such-dist-evoselfcode']);
  assert.equal(report.serverOrigin, join(root, 'server', '__init__.py'));
  const diagnosis = diagnosePreflight(report, {
    interpreter: { command: python, source: 'setting' },
    requirements: [{ spec: 'no-such-dist-evoselfcode>=1', name: 'no-such-dist-evoselfcode' }],
    pythonRoot: root,
  });
  assert.deepEqual(diagnosis?.missing, ['no-such-dist-evoselfcode>=1']);
});

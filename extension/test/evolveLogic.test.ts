import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EvolveResult } from '../src/common/protocol';
import {
  checkTarget,
  classifyError,
  classifyFailure,
  describeAccepted,
  describeProposal,
  describeRejection,
  enclosingFunctionName,
  failureMessage,
  gateLines,
  locateOriginal,
  MAX_SELECTION_LINES,
} from '../src/features/evolveLogic';

const base: EvolveResult = {
  id: 'e1',
  ok: false,
  original: 'def f(x):\n    return x\n',
  proposed: 'def f(x: int) -> int:\n    return x\n',
  range: { start: { line: 0, character: 0 }, end: { line: 2, character: 0 } },
  gates: [
    { name: 'syntax', passed: true },
    { name: 'execution', passed: false, reason: '2 of 5 tests failed' },
    { name: 'verifier', passed: false, reason: 'not run' },
  ],
};

test('non-Python files and huge selections are refused with a reason', () => {
  const python = {
    languageId: 'python',
    fileName: '/w/a.py',
    selectionLines: 10,
    selectionChars: 200,
  };
  assert.equal(checkTarget(python), undefined);
  assert.match(
    checkTarget({ ...python, languageId: 'markdown', fileName: '/w/README.md' })!,
    /README\.md is a markdown file/,
  );
  assert.match(checkTarget({ ...python, selectionLines: MAX_SELECTION_LINES + 1 })!, /too large/);
  assert.match(checkTarget({ ...python, selectionChars: 10_000_000 })!, /too large/);
});

test('the original function is found where it was, or where it moved; an edited one is not', () => {
  const before = 'import os\n\n';
  const text = `${before}${base.original}\ndef g():\n    pass\n`;
  assert.deepEqual(locateOriginal(text, base.original, before.length), {
    offset: before.length,
    length: base.original.length,
  });
  const moved = `# a new comment\n${text}`;
  assert.equal(locateOriginal(moved, base.original, before.length)?.offset, before.length + 16);
  const edited = text.replace('return x', 'return x + 1');
  assert.equal(locateOriginal(edited, base.original, before.length), undefined);
  const twice = `${text}\n${base.original}`;
  assert.equal(locateOriginal(twice, base.original, 0), undefined, 'ambiguous: not applied');
  assert.deepEqual(locateOriginal(text, '', 5), { offset: 5, length: 0 }, 'an insertion');
  const crlf = text.replace(/\n/g, '\r\n');
  assert.equal(locateOriginal(crlf, base.original, 11)?.length, base.original.length + 2);
});

test('a rejection names the gate and gives its own reason', () => {
  assert.equal(
    describeRejection(base),
    'Self-evolution rejected by the execution gate: 2 of 5 tests failed',
  );
  // The server's result reason repeats the gate's name: the gate's own reason is shown.
  assert.equal(
    describeRejection({
      ...base,
      rejectedBy: 'execution',
      reason: 'execution: 2 of 5 tests failed',
    }),
    'Self-evolution rejected by the execution gate: 2 of 5 tests failed',
  );
  assert.equal(
    describeRejection({
      ...base,
      rejectedBy: 'verifier',
      gates: [],
      reason: 'confidence 0.31 < 0.5',
    }),
    'Self-evolution rejected by the verifier gate: confidence 0.31 < 0.5',
  );
  assert.equal(describeRejection({ ...base, gates: [] }), 'Self-evolution rejected by a gate.');
});

test('gate lines mark passes and failures; ok/gate field variants are read', () => {
  assert.deepEqual(gateLines(base), [
    '✓ syntax',
    '✗ execution: 2 of 5 tests failed',
    '✗ verifier: not run',
  ]);
  assert.deepEqual(gateLines({ ...base, gates: [{ gate: 'ruff', ok: true, detail: 'clean' }] }), [
    '✓ ruff: clean',
  ]);
});

test('the proposal prompt carries the verifier verdict and confidence', () => {
  const text = describeProposal({ ...base, ok: true, verdict: 'yes', confidence: 0.923 });
  assert.equal(text, 'Proposed change passed 3 gates, verifier: yes (confidence 0.92). Apply it?');
});

test('the accept message says what was recorded', () => {
  assert.equal(
    describeAccepted({ recorded: true, recordId: 'r1' }),
    'recorded as training pair r1',
  );
  assert.match(
    describeAccepted({ recorded: true, recordId: 'r2', flagged: true }),
    /kept out of training/,
  );
  assert.match(
    describeAccepted({ recorded: false, duplicate: true, recordId: 'r1' }),
    /already in the training data \(r1\)/,
  );
  assert.equal(describeAccepted({ recorded: false }), 'not recorded');
});

test('failures are sorted into auth, unreachable, timeout, unsupported', () => {
  assert.equal(classifyFailure('AuthenticationError: 401 Unauthorized (generator)'), 'auth');
  assert.equal(classifyFailure('no API key for the generator'), 'auth');
  assert.equal(
    classifyFailure('EndpointUnreachable: http://127.0.0.1:9/v1 (connection refused)'),
    'unreachable',
  );
  assert.equal(classifyFailure('RequestTimeout: generator timed out after 120 s'), 'timeout');
  assert.equal(classifyFailure('Unknown command evoselfcode.selfEvolve'), 'unsupported');
  assert.equal(classifyFailure('ValueError: something else'), 'other');
  assert.match(failureMessage('auth', 'x', 'http://h/v1'), /at http:\/\/h\/v1 .*Set API key/);
  assert.match(failureMessage('unreachable', 'x'), /cannot be reached/);
});

test("a result's error is sorted by its exception class first, and names the role", () => {
  assert.equal(
    classifyError({ role: 'generator', kind: 'AuthenticationError', message: 'HTTP 401' }),
    'auth',
  );
  assert.equal(
    classifyError({ role: 'verifier', kind: 'EndpointUnreachable', message: 'x' }),
    'unreachable',
  );
  assert.equal(
    classifyError({ role: 'generator', kind: 'CircuitOpen', message: 'x' }),
    'unreachable',
  );
  assert.equal(
    classifyError({ role: 'generator', kind: 'RequestTimeout', message: 'x' }),
    'timeout',
  );
  assert.equal(
    classifyError({ role: 'locate', kind: 'FunctionNotFound', message: 'no function at line 3' }),
    'other',
  );
  const message = failureMessage(
    'unreachable',
    'connection refused',
    'http://127.0.0.1:9/v1',
    'verifier',
  );
  assert.match(
    message,
    /^The verifier endpoint at http:\/\/127\.0\.0\.1:9\/v1 cannot be reached.*evoselfcode\.verifier\.baseUrl/,
  );
});

test('the enclosing function is found from any line inside it, nested ones included', () => {
  const lines = [
    'import os',
    '',
    'class A:',
    '    def outer(self):',
    '        x = 1',
    '        def inner():',
    '            return x',
    '        return inner',
    '',
    'async def top():',
    '    pass',
  ];
  assert.equal(enclosingFunctionName(lines, 4), 'outer');
  assert.equal(enclosingFunctionName(lines, 6), 'inner');
  assert.equal(enclosingFunctionName(lines, 7), 'outer');
  assert.equal(enclosingFunctionName(lines, 10), 'top');
  assert.equal(enclosingFunctionName(lines, 0), undefined);
});

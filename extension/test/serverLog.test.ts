import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyStderrLine } from '../src/common/serverLog';

test("the server's own log lines keep their level and are marked as forwarded", () => {
  const warning =
    '2026-11-21 10:23:34,818 WARNING evolution.clients.transport: generator: cannot connect (ConnectError: x)';
  assert.deepEqual(classifyStderrLine(warning), { level: 'warn', forwarded: true });
  assert.deepEqual(classifyStderrLine('2026-11-21 10:23:34,818 ERROR server.server: boom'), {
    level: 'error',
    forwarded: true,
  });
});

test('log lines of other libraries are not forwarded by the server', () => {
  assert.deepEqual(
    classifyStderrLine('2026-11-21 10:23:34,818 WARNING pygls.protocol: odd message'),
    {
      level: 'warn',
      forwarded: false,
    },
  );
});

test('tracebacks and exception lines are errors; an error word inside a message is not', () => {
  assert.equal(classifyStderrLine('Traceback (most recent call last):').level, 'error');
  assert.equal(classifyStderrLine("ModuleNotFoundError: No module named 'pygls'").level, 'error');
  assert.equal(classifyStderrLine('  retrying after ConnectError: refused').level, 'info');
});

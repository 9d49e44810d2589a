import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LineTail } from '../src/common/lineTail';
import { RestartBudget } from '../src/common/restartBudget';

test('allows maxRestarts restarts inside the window, then refuses', () => {
  const budget = new RestartBudget(3, 60_000);
  assert.equal(budget.tryRestart(0), true);
  assert.equal(budget.tryRestart(1_000), true);
  assert.equal(budget.tryRestart(2_000), true);
  assert.equal(budget.tryRestart(3_000), false);
  assert.equal(budget.used, 3);
});

test('old crashes leave the window; reset starts afresh', () => {
  const budget = new RestartBudget(2, 10_000);
  budget.tryRestart(0);
  budget.tryRestart(1);
  assert.equal(budget.tryRestart(5_000), false);
  assert.equal(budget.tryRestart(10_500), true, 'the crashes at 0 and 1 ms are out of the window');
  budget.reset();
  assert.equal(budget.used, 0);
});

test('LineTail keeps the last lines and joins chunks split mid-line', () => {
  const tail = new LineTail(3);
  tail.push('one\ntw');
  tail.push('o\nthree\nfour\nfi');
  assert.deepEqual(
    tail.text,
    ['two', 'three', 'four', 'fi'],
    'complete lines bounded, the partial one kept',
  );
  tail.push('ve\n');
  assert.deepEqual(tail.text, ['three', 'four', 'five']);
  tail.clear();
  assert.deepEqual(tail.text, []);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProgressClaims } from '../src/features/progressClaims';

function recorder() {
  const seen: Array<string | undefined> = [];
  return { seen, sink: (message: string | undefined) => seen.push(message) };
}

test('the first progress begun while a claim is open reports into it, until its end', () => {
  const claims = new ProgressClaims<string>();
  const a = recorder();
  const handle = claims.open(a.sink);
  assert.equal(claims.route('t1', { kind: 'begin', message: 'generator' }), true);
  assert.equal(handle.token(), 't1');
  assert.equal(claims.route('t1', { kind: 'report', message: 'gates' }), true);
  assert.equal(claims.route('t1', { kind: 'end' }), true);
  assert.equal(handle.token(), undefined);
  assert.deepEqual(a.seen, ['generator', 'gates']);
  // Later progress is other work: it is not taken.
  assert.equal(claims.route('t2', { kind: 'begin', message: 'fine-tuning' }), false);
});

test('reports of unclaimed tokens and progress with no claim open are left alone', () => {
  const claims = new ProgressClaims<string>();
  assert.equal(claims.route('t1', { kind: 'begin' }), false);
  const a = recorder();
  claims.open(a.sink);
  assert.equal(claims.route('t1', { kind: 'report', message: 'x' }), false);
  assert.deepEqual(a.seen, []);
});

test('the newest open claim takes the next progress; a closed claim takes nothing', () => {
  const claims = new ProgressClaims<number>();
  const older = recorder();
  const newer = recorder();
  claims.open(older.sink);
  const newest = claims.open(newer.sink);
  claims.route(1, { kind: 'begin', message: 'first' });
  assert.deepEqual(newer.seen, ['first']);
  claims.route(2, { kind: 'begin', message: 'second' });
  assert.deepEqual(older.seen, ['second']);
  newest.close();
  assert.equal(claims.route(1, { kind: 'report', message: 'after close' }), false);
});

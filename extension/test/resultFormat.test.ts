import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  describeAdapter,
  formatEvaluationResult,
  formatFinetuneResult,
  formatTrainingSummary,
} from '../src/features/resultFormat';

test('evaluation result: pass@1, interval, outcome counts', () => {
  const line = formatEvaluationResult({
    modelVersion: 'base',
    dataset: 'humaneval',
    tasks: 5,
    passAt1: 0.4,
    ci95: [0.1, 0.75],
    counts: { passed: 2, failed: 2, syntax_error: 1, timeout: 0 },
    outDir: '/x',
  });
  assert.equal(
    line,
    'Evaluation of base on 5 humaneval tasks: pass@1 40.0% (95% CI 10.0%–75.0%); passed 2, failed 2, syntax_error 1',
  );
});

test('fine-tune result: promoted or not and why; cancelled and failed runs say so', () => {
  assert.equal(
    formatFinetuneResult({
      status: 'finished',
      adapterId: 'a7',
      promoted: true,
      reason: 'not worse',
    }),
    'Fine-tuning finished; adapter a7 promoted: it serves completions now (not worse).',
  );
  assert.match(
    formatFinetuneResult({ status: 'finished', promoted: false, reason: 'pass@1 fell' }),
    /the new adapter not promoted \(pass@1 fell\)/,
  );
  assert.equal(
    formatFinetuneResult({
      status: 'cancelled',
      promoted: false,
      reason: 'cancelled at step 3 of 9',
    }),
    'Fine-tuning cancelled: cancelled at step 3 of 9.',
  );
  assert.match(
    formatFinetuneResult({ status: 'failed', promoted: false, reason: 'out of memory' }),
    /^Fine-tuning failed: out of memory/,
  );
});

test('training summary: counts, sources, what was skipped, when', () => {
  const line = formatTrainingSummary({
    path: '/data/training/pairs.jsonl',
    records: 3,
    bySource: { editor: 2, datagen: 1 },
    flagged: 1,
    trainable: 2,
    duplicatesSkipped: 4,
    unreadableLines: 0,
    lastAdded: '2026-11-21T10:00:00Z',
  });
  assert.equal(
    line,
    '3 pairs (2 trainable, 1 flagged as overlapping a benchmark); from editor 2, datagen 1; ' +
      '4 duplicates skipped; last added 2026-11-21T10:00:00Z',
  );
  assert.equal(formatTrainingSummary({ records: 0 }), '0 pairs');
});

test('adapter description marks the promoted one and its numeric metrics', () => {
  const state = { promoted: 'a2', adapters: [] };
  assert.equal(
    describeAdapter({ id: 'a2', metrics: { passAt1: 0.41234, steps: 50, note: 'x' } }, state),
    'promoted · passAt1 0.412 · steps 50',
  );
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ServerStatus } from '../src/common/protocol';
import {
  finetuneActive,
  formatMs,
  formatPercent,
  formatStatusBar,
  shortModelName,
  outcomeDetails,
  statusDetails,
  statusMenu,
} from '../src/features/statusFormat';

const ready: ServerStatus = {
  state: 'ready',
  model: '/tmp/run/smoke-model',
  adapter: null,
  device: 'cpu',
  dtype: 'float32',
  backend: 'local',
  randomWeights: false,
  completions: {
    requests: 10,
    served: 7,
    empty: { debounced: 2, filtered_syntax: 1, cancelled: 0 },
    cacheHits: 3,
  },
  latencyMs: { p50: 123.4, p95: 1500 },
};

test('ready: model, p50, evaluation with its model version, fine-tune progress', () => {
  const view = formatStatusBar(
    'running',
    {
      ...ready,
      evaluation: { passAt1: 0.415, modelVersion: 'base+a3', dataset: 'humaneval' },
      finetune: { state: 'running', step: 30, total: 100, loss: 1.2345 },
    },
    true,
  );
  assert.equal(
    view.text,
    '$(check) smoke-model · p50 123 ms · pass@1 41.5% (base+a3) · $(gear~spin) fine-tune 30/100',
  );
  assert.equal(view.severity, 'normal');
});

test('loading, failed, starting and stopped states', () => {
  assert.equal(
    formatStatusBar('running', { ...ready, state: 'loading' }, true).text,
    '$(sync~spin) smoke-model: loading',
  );
  const failed = formatStatusBar(
    'running',
    { ...ready, state: 'failed', reason: 'no weights in /x' },
    true,
  );
  assert.equal(failed.severity, 'error');
  assert.match(failed.tooltip, /failed: no weights in \/x/);
  assert.match(formatStatusBar('starting', undefined, true).text, /sync~spin/);
  const down = formatStatusBar('failed', undefined, true, 'Python interpreter not found');
  assert.equal(down.severity, 'error');
  assert.match(down.tooltip, /Python interpreter not found/);
});

test('completions off and random weights show in the text', () => {
  const view = formatStatusBar('running', { ...ready, randomWeights: true }, false);
  assert.match(view.text, /^\$\(circle-slash\) smoke-model \(random\)/);
  assert.equal(view.severity, 'warning');
});

test('a model trained here says so in the text and the tooltip, without a warning', () => {
  const view = formatStatusBar(
    'running',
    { ...ready, model: 'evoselfcode-small', trainedHere: true },
    true,
  );
  assert.match(view.text, /^\$\(check\) evoselfcode-small \(trained here\)/);
  assert.match(view.tooltip, /Small model trained by EvoSelfCode .* nowhere near Qwen2\.5-Coder/);
  assert.equal(view.severity, 'normal');
});

test('a sandbox below full isolation shows in the text, the tooltip and the colour', () => {
  const full = formatStatusBar('running', { ...ready, sandbox: { level: 'full' } }, true);
  assert.doesNotMatch(full.text, /sandbox/);
  assert.match(full.tooltip, /Sandbox: fully isolated/);
  assert.equal(full.severity, 'normal');
  const why = 'user namespaces are disabled: allow them with sysctl';
  const partial = formatStatusBar(
    'running',
    { ...ready, sandbox: { level: 'partial', problems: [why] } },
    true,
  );
  assert.match(partial.text, /\$\(shield\) sandbox: partial$/);
  assert.match(partial.tooltip, /Sandbox: partial isolation\n {2}user namespaces are disabled/);
  assert.equal(partial.severity, 'warning');
});

test('details list every fact, empty-answer reasons with a count only', () => {
  const lines = statusDetails(ready, true).join('\n');
  assert.match(lines, /Model: \/tmp\/run\/smoke-model \(ready\)/);
  assert.match(lines, /Runs on: local, cpu, float32/);
  assert.match(lines, /10 requests, 7 served, 3 from cache/);
  assert.match(lines, /Empty answers: debounced 2, filtered_syntax 1$/m);
  assert.match(lines, /Latency: p50 123 ms, p95 1\.5 s/);
  const gate = { passAt1: 0.25, modelVersion: 'm@ft-1', dataset: 'humaneval', tasks: 40 };
  const withGate = statusDetails({ ...ready, evaluation: gate }, true).join('\n');
  assert.match(withGate, /Last evaluation: pass@1 25\.0% on 40 tasks of humaneval, model m@ft-1/);
});

test('details count time-boxed completions and prefetches once there are any', () => {
  const quiet = statusDetails(ready, true).join('\n');
  assert.doesNotMatch(quiet, /Time-boxed|Prefetched/);
  const busy = {
    ...ready,
    completions: {
      ...ready.completions,
      timeBoxed: 4,
      prefetch: { started: 6, stored: 3, used: 2, cancelled: 3 },
    },
  };
  const lines = statusDetails(busy, true).join('\n');
  assert.match(lines, /^Time-boxed \(ended at a line end\): 4$/m);
  assert.match(lines, /^Prefetched: 6 started, 3 stored, 2 used, 3 cancelled$/m);
});

test('the menu offers cancel only while fine-tuning runs, and no server actions when down', () => {
  const actions = (s: ServerStatus | undefined, c: 'running' | 'failed') =>
    statusMenu(c, s, true).map((i) => i.action);
  assert.ok(actions(ready, 'running').includes('fineTune'));
  const running = actions(
    { ...ready, finetune: { state: 'running', step: 1, total: 9 } },
    'running',
  );
  assert.ok(running.includes('cancelFineTune') && !running.includes('fineTune'));
  assert.deepEqual(actions(undefined, 'failed'), ['setApiKey', 'restartServer', 'showLogs']);
});

test('actions whose server command is missing are not offered', () => {
  const offers = (command: string) => command === 'evoselfcode.evaluate';
  const actions = statusMenu('running', ready, true, offers).map((i) => i.action);
  assert.deepEqual(actions, [
    'toggleCompletions',
    'evaluate',
    'setApiKey',
    'restartServer',
    'showLogs',
  ]);
});

test('small formatters', () => {
  assert.equal(formatPercent(0.5), '50.0%');
  assert.equal(formatPercent(73.25), '73.3%');
  assert.equal(formatMs(null), undefined);
  assert.equal(formatMs(999.6), '1000 ms');
  assert.equal(shortModelName('Qwen/Qwen2.5-Coder-1.5B'), 'Qwen2.5-Coder-1.5B');
  assert.equal(shortModelName('/a/b/'), 'b');
  assert.equal(finetuneActive({ state: 'Done' }), false);
  assert.equal(finetuneActive(undefined), false);
});

test('details give the acceptance and retained-character rates once suggestions were shown', () => {
  assert.deepEqual(outcomeDetails({ shown: 0 }), []);
  const outcomes = {
    shown: 12,
    accepted: 3,
    partial: 1,
    dismissed: 6,
    typedOver: 2,
    reverted: 1,
    acceptanceRate: 0.333,
    retainedCharRate: { '30s': 0.9, '5m': null },
    signals: { accepted: 'inferred' },
  };
  const lines = statusDetails(
    { ...ready, completions: { ...ready.completions, outcomes } },
    true,
  ).join('\n');
  assert.match(lines, /Suggestions: 12 shown, 3 accepted, 1 partly, 6 dismissed, 2 typed over/);
  assert.match(lines, /Acceptance rate: 33\.3% \(acceptance inferred from edits\)/);
  assert.match(lines, /Accepted characters kept: 90\.0% after 30s, – after 5m; 1 reverted/);
  const observed = outcomeDetails({ ...outcomes, signals: { accepted: 'observed' } });
  assert.match(observed.join('\n'), /reported by the editor/);
  const unmeasured = outcomeDetails({ ...outcomes, retainedCharRate: { '30s': null } });
  assert.doesNotMatch(unmeasured.join('\n'), /kept/);
});

test('details show the live acceptance watch, its rollback and the automatic training', () => {
  const watching = outcomeDetails({
    shown: 0,
    acceptanceWatch: {
      adapter: 'a2',
      previous: null,
      state: 'watching',
      rate: 0.25,
      shown: 40,
      previousRate: 0.5,
      previousShown: 80,
      pValue: 0.02,
    },
    autoTrain: { acceptedSinceTraining: 3, trainAfter: 20 },
  }).join('\n');
  assert.match(
    watching,
    /^Adapter a2 \(watching\): accepted 25\.0% of 40 vs 50\.0% of 80 under the base model, p = 0\.02$/m,
  );
  assert.match(watching, /^Workspace fine-tune after 20 accepts: 3 so far$/m);
  const rolled = outcomeDetails({
    shown: 0,
    acceptanceWatch: { lastRollback: { adapter: 'a2', reason: 'live acceptance fell' } },
  });
  assert.deepEqual(rolled, ['Rolled back a2: live acceptance fell']);
});

test('the menu offers fine-tuning on the workspace beside the local model', () => {
  const actions = statusMenu('running', ready, true).map((i) => i.action);
  assert.ok(actions.includes('fineTuneWorkspace') && actions.includes('fineTune'));
});

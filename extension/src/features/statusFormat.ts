/** What the status bar and its quick pick show, computed from the server's status. */
import { ConnectionState } from '../common/connection';
import { FinetuneProgress, OutcomeSummary, ServerStatus } from '../common/protocol';

export interface StatusView {
  text: string;
  tooltip: string;
  severity: 'normal' | 'warning' | 'error';
}

export const TRAINED_HERE_NOTE =
  'Small model trained by EvoSelfCode on Python source: plausible code, often wrong, nowhere near Qwen2.5-Coder.';

const FINISHED_FINETUNE_STATES = new Set([
  'idle',
  'done',
  'finished',
  'completed',
  'failed',
  'cancelled',
  'canceled',
  'promoted',
  'rejected',
]);

/** A pass rate given as a fraction (0..1) or already as a percentage. */
export function formatPercent(value: number): string {
  const percent = value <= 1 ? value * 100 : value;
  return `${percent.toFixed(1)}%`;
}

export function formatMs(value: number | null | undefined): string | undefined {
  if (value === null || value === undefined || !Number.isFinite(value)) return undefined;
  return value >= 1000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
}

/** The last path component of a model reference, so folders stay short. */
export function shortModelName(model: string | null | undefined): string {
  if (!model) return 'model';
  const parts = model.replace(/[\\/]+$/, '').split(/[\\/]/);
  return parts[parts.length - 1] || model;
}

export function finetuneActive(finetune: FinetuneProgress | null | undefined): boolean {
  return !!finetune && !FINISHED_FINETUNE_STATES.has(finetune.state.toLowerCase());
}

function finetuneText(finetune: FinetuneProgress): string {
  const steps =
    finetune.step !== undefined && finetune.total ? ` ${finetune.step}/${finetune.total}` : '';
  return `fine-tune${steps}`;
}

/** The status bar item: icon, short text, tooltip and colour. */
export function formatStatusBar(
  connection: ConnectionState,
  status: ServerStatus | undefined,
  completionsEnabled: boolean,
  failure?: string,
): StatusView {
  if (connection === 'starting') {
    return {
      text: '$(sync~spin) EvoSelfCode',
      tooltip: 'Starting the EvoSelfCode server…',
      severity: 'normal',
    };
  }
  if (connection === 'failed' || connection === 'stopped') {
    const why =
      failure ?? (connection === 'stopped' ? 'The server is stopped.' : 'The server failed.');
    return {
      text: '$(error) EvoSelfCode',
      tooltip: `${why}\nClick for actions.`,
      severity: 'error',
    };
  }
  if (!status) {
    return {
      text: '$(sync~spin) EvoSelfCode',
      tooltip: 'Waiting for the server status…',
      severity: 'normal',
    };
  }
  const model = shortModelName(status.model);
  const tooltip = statusDetails(status, completionsEnabled).join('\n');
  if (status.state === 'loading') {
    return { text: `$(sync~spin) ${model}: loading`, tooltip, severity: 'normal' };
  }
  if (status.state === 'failed') {
    return { text: `$(error) ${model}: failed`, tooltip, severity: 'error' };
  }
  const parts = [`${completionsEnabled ? '$(check)' : '$(circle-slash)'} ${model}`];
  if (status.randomWeights) parts[0] += ' (random)';
  else if (status.trainedHere) parts[0] += ' (trained here)';
  const p50 = formatMs(status.latencyMs?.p50);
  if (p50) parts.push(`p50 ${p50}`);
  if (status.evaluation) {
    parts.push(
      `pass@1 ${formatPercent(status.evaluation.passAt1)} (${status.evaluation.modelVersion})`,
    );
  }
  if (finetuneActive(status.finetune)) parts.push(`$(gear~spin) ${finetuneText(status.finetune!)}`);
  const weakSandbox = !!status.sandbox && status.sandbox.level !== 'full';
  if (weakSandbox) parts.push(`$(shield) sandbox: ${status.sandbox!.level}`);
  return {
    text: parts.join(' · '),
    tooltip,
    severity: status.randomWeights || weakSandbox ? 'warning' : 'normal',
  };
}

/** What became of the suggestions: acceptance and retained-character rates, and whether
 * acceptance was reported by the editor or inferred from its edits. */
export function outcomeDetails(o: OutcomeSummary): string[] {
  const learning = learningDetails(o);
  if (!o.shown) return learning;
  const rate = (value: number | null | undefined) =>
    value === null || value === undefined ? '–' : formatPercent(value);
  const how = o.signals?.accepted === 'observed' ? 'reported by the editor' : 'inferred from edits';
  const lines = [
    `Suggestions: ${o.shown} shown, ${o.accepted ?? 0} accepted, ${o.partial ?? 0} partly, ${o.dismissed ?? 0} dismissed, ${o.typedOver ?? 0} typed over`,
    `Acceptance rate: ${rate(o.acceptanceRate)} (acceptance ${how})`,
  ];
  const retained = Object.entries(o.retainedCharRate ?? {});
  if (retained.some(([, value]) => value !== null && value !== undefined)) {
    const parts = retained.map(([after, value]) => `${rate(value)} after ${after}`);
    lines.push(`Accepted characters kept: ${parts.join(', ')}; ${o.reverted ?? 0} reverted`);
  }
  return [...lines, ...learning];
}

/** The served adapter's live acceptance watch, its last rollback, and the automatic training. */
function learningDetails(o: OutcomeSummary): string[] {
  const lines: string[] = [];
  const watch = o.acceptanceWatch;
  const rate = (value: number | null | undefined, shown: number | undefined) =>
    value === null || value === undefined ? '–' : `${formatPercent(value)} of ${shown ?? 0}`;
  if (watch?.adapter) {
    const before = watch.previous ?? 'the base model';
    const p = watch.pValue === null || watch.pValue === undefined ? '' : `, p = ${watch.pValue}`;
    lines.push(
      `Adapter ${watch.adapter} (${watch.state}): accepted ${rate(watch.rate, watch.shown)} vs ${rate(watch.previousRate, watch.previousShown)} under ${before}${p}`,
    );
  }
  if (watch?.lastRollback) {
    lines.push(`Rolled back ${watch.lastRollback.adapter}: ${watch.lastRollback.reason}`);
  }
  if (o.autoTrain) {
    lines.push(
      `Workspace fine-tune after ${o.autoTrain.trainAfter} accepts: ${o.autoTrain.acceptedSinceTraining} so far`,
    );
  }
  return lines;
}

/** Lines describing the status in full (tooltip and quick-pick details). */
export function statusDetails(status: ServerStatus, completionsEnabled: boolean): string[] {
  const lines: string[] = [];
  const state =
    status.state === 'failed' && status.reason ? `failed: ${status.reason}` : status.state;
  lines.push(`Model: ${status.model ?? 'unknown'} (${state})`);
  if (status.randomWeights) lines.push('Random weights (test model): completions are junk.');
  else if (status.trainedHere) lines.push(TRAINED_HERE_NOTE);
  const where = [status.backend, status.device, status.dtype].filter(Boolean).join(', ');
  if (where) lines.push(`Runs on: ${where}`);
  lines.push(`Adapter: ${status.adapter || 'none'}`);
  lines.push(`Inline completions: ${completionsEnabled ? 'on' : 'off'}`);
  const c = status.completions;
  if (c) {
    const counts = [`${c.requests ?? 0} requests`, `${c.served ?? 0} served`];
    if (c.cacheHits !== undefined) counts.push(`${c.cacheHits} from cache`);
    lines.push(`Completions: ${counts.join(', ')}`);
    if (c.timeBoxed) lines.push(`Time-boxed (ended at a line end): ${c.timeBoxed}`);
    const p = c.prefetch;
    if (p?.started) {
      const outcome = `${p.stored ?? 0} stored, ${p.used ?? 0} used, ${p.cancelled ?? 0} cancelled`;
      lines.push(`Prefetched: ${p.started} started, ${outcome}`);
    }
    if (c.outcomes) lines.push(...outcomeDetails(c.outcomes));
    const empty = Object.entries(c.empty ?? {}).filter(([, n]) => n > 0);
    if (empty.length) {
      lines.push(`Empty answers: ${empty.map(([why, n]) => `${why} ${n}`).join(', ')}`);
    }
  }
  const p50 = formatMs(status.latencyMs?.p50);
  const p95 = formatMs(status.latencyMs?.p95);
  if (p50 || p95) lines.push(`Latency: p50 ${p50 ?? '–'}, p95 ${p95 ?? '–'}`);
  if (status.evaluation) {
    const e = status.evaluation;
    lines.push(
      `Last evaluation: pass@1 ${formatPercent(e.passAt1)} on ${e.tasks ? `${e.tasks} tasks of ` : ''}${e.dataset ?? 'the benchmark'}, model ${e.modelVersion}`,
    );
  }
  if (status.sandbox) {
    const s = status.sandbox;
    lines.push(`Sandbox: ${s.level === 'full' ? 'fully isolated' : `${s.level} isolation`}`);
    for (const problem of s.level === 'full' ? [] : (s.problems ?? [])) {
      lines.push(`  ${problem}`);
    }
  }
  if (status.finetune) {
    const f = status.finetune;
    const loss = f.loss === null || f.loss === undefined ? '' : `, loss ${f.loss.toFixed(3)}`;
    const steps = f.step !== undefined && f.total ? ` (step ${f.step}/${f.total}${loss})` : '';
    lines.push(`Fine-tuning: ${f.state}${steps}`);
  }
  return lines;
}

export type StatusAction =
  | 'toggleCompletions'
  | 'evaluate'
  | 'fineTune'
  | 'fineTuneWorkspace'
  | 'cancelFineTune'
  | 'showTrainingData'
  | 'promoteAdapter'
  | 'rollbackAdapter'
  | 'setApiKey'
  | 'restartServer'
  | 'showLogs';

export interface StatusMenuItem {
  label: string;
  action: StatusAction;
}

/** The server command each action needs; actions of commands the server lacks are hidden. */
const ACTION_NEEDS: Partial<Record<StatusAction, string>> = {
  evaluate: 'evoselfcode.evaluate',
  fineTune: 'evoselfcode.fineTune',
  fineTuneWorkspace: 'evoselfcode.fineTune',
  cancelFineTune: 'evoselfcode.cancelFineTune',
  showTrainingData: 'evoselfcode.trainingData',
  promoteAdapter: 'evoselfcode.adapters',
  rollbackAdapter: 'evoselfcode.adapters',
};

/** The actions offered when the status bar item is clicked, given the current state. */
export function statusMenu(
  connection: ConnectionState,
  status: ServerStatus | undefined,
  completionsEnabled: boolean,
  serverOffers: (command: string) => boolean = () => true,
): StatusMenuItem[] {
  return allActions(connection, status, completionsEnabled).filter((item) => {
    const needed = ACTION_NEEDS[item.action];
    return needed === undefined || serverOffers(needed);
  });
}

function allActions(
  connection: ConnectionState,
  status: ServerStatus | undefined,
  completionsEnabled: boolean,
): StatusMenuItem[] {
  const running = connection === 'running';
  const items: StatusMenuItem[] = [];
  if (running) {
    items.push({
      label: completionsEnabled
        ? '$(circle-slash) Turn inline completions off'
        : '$(check) Turn inline completions on',
      action: 'toggleCompletions',
    });
    items.push({ label: '$(beaker) Evaluate on HumanEval…', action: 'evaluate' });
    items.push(
      ...(finetuneActive(status?.finetune)
        ? [{ label: '$(debug-stop) Cancel fine-tuning', action: 'cancelFineTune' } as const]
        : [
            { label: '$(gear) Fine-tune local model', action: 'fineTune' } as const,
            {
              label: '$(gear) Fine-tune completions on this workspace',
              action: 'fineTuneWorkspace',
            } as const,
          ]),
    );
    items.push({ label: '$(database) Show training data', action: 'showTrainingData' });
    items.push({ label: '$(arrow-up) Promote adapter…', action: 'promoteAdapter' });
    items.push({ label: '$(history) Roll back adapter', action: 'rollbackAdapter' });
  }
  items.push({ label: '$(key) Set API key…', action: 'setApiKey' });
  items.push({ label: '$(debug-restart) Restart server', action: 'restartServer' });
  items.push({ label: '$(output) Show logs', action: 'showLogs' });
  return items;
}

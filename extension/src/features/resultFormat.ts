/** Messages for the end of long runs and for the training data and adapter commands. */
import {
  AdapterEntry,
  AdapterRegistryState,
  EvaluationResult,
  FinetuneResult,
  TrainingDataSummary,
} from '../common/protocol';
import { formatPercent } from './statusFormat';

/** One line for the end of an evaluation. */
export function formatEvaluationResult(result: EvaluationResult): string {
  const ci = result.ci95
    ? ` (95% CI ${formatPercent(result.ci95[0])}–${formatPercent(result.ci95[1])})`
    : '';
  const counts = Object.entries(result.counts ?? {})
    .filter(([, n]) => n > 0)
    .map(([outcome, n]) => `${outcome} ${n}`)
    .join(', ');
  return (
    `Evaluation of ${result.modelVersion} on ${result.tasks} ${result.dataset} tasks: ` +
    `pass@1 ${formatPercent(result.passAt1)}${ci}` +
    (counts ? `; ${counts}` : '')
  );
}

/** One line for the end of a fine-tuning run. */
export function formatFinetuneResult(result: FinetuneResult): string {
  const why = result.reason ? `: ${result.reason}` : '';
  if (result.status === 'failed') return `Fine-tuning failed${why}.`;
  if (result.status === 'cancelled') return `Fine-tuning cancelled${why}.`;
  const adapter = result.adapterId ? `adapter ${result.adapterId}` : 'the new adapter';
  const verdict = result.promoted
    ? `${adapter} promoted: it serves completions now`
    : `${adapter} not promoted`;
  return `Fine-tuning finished; ${verdict}${result.reason ? ` (${result.reason})` : ''}.`;
}

/** The store's statistics as one line, e.g. "3 pairs (2 trainable, 1 flagged); from editor 3". */
export function formatTrainingSummary(summary: TrainingDataSummary): string {
  const records = summary.records ?? 0;
  const parts = [`${records} pair${records === 1 ? '' : 's'}`];
  if (summary.trainable !== undefined || summary.flagged) {
    parts[0] += ` (${summary.trainable ?? records} trainable, ${summary.flagged ?? 0} flagged as overlapping a benchmark)`;
  }
  const sources = Object.entries(summary.bySource ?? {}).map(([source, n]) => `${source} ${n}`);
  if (sources.length) parts.push(`from ${sources.join(', ')}`);
  if (summary.duplicatesSkipped) parts.push(`${summary.duplicatesSkipped} duplicates skipped`);
  if (summary.unreadableLines) parts.push(`${summary.unreadableLines} unreadable lines`);
  if (summary.lastAdded) parts.push(`last added ${summary.lastAdded}`);
  return parts.join('; ');
}

/** The line describing one adapter in the promote picker. */
export function describeAdapter(adapter: AdapterEntry, state: AdapterRegistryState): string {
  const marks: string[] = [];
  if (adapter.id === state.promoted || adapter.promoted) marks.push('promoted');
  else if (typeof adapter.status === 'string') marks.push(adapter.status);
  const metrics = Object.entries(adapter.metrics ?? {})
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : (v as number).toFixed(3)}`);
  return [...marks, ...metrics, adapter.createdAt ?? ''].filter(Boolean).join(' · ');
}

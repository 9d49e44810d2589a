/** "Show training data", "Show completion outcomes log" and "Promote / roll back adapter". */
import * as vscode from 'vscode';
import { Logger } from '../common/logging';
import {
  AdapterRegistryState,
  CompletionOutcomesLog,
  ServerCommands,
  TrainingDataSummary,
} from '../common/protocol';
import { ServerApi } from '../common/serverApi';
import { errorMessage, showCommandError } from '../common/ui';
import { describeAdapter, formatTrainingSummary } from './resultFormat';
import { outcomeDetails } from './statusFormat';

export function registerDataCommands(api: ServerApi, logger: Logger): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand('evoselfcode.showTrainingData', () =>
      showTrainingData(api, logger),
    ),
    vscode.commands.registerCommand('evoselfcode.showCompletionOutcomes', () =>
      showCompletionOutcomes(api, logger),
    ),
    vscode.commands.registerCommand('evoselfcode.promoteAdapter', () =>
      promoteAdapter(api, logger),
    ),
    vscode.commands.registerCommand('evoselfcode.rollbackAdapter', () =>
      rollbackAdapter(api, logger),
    ),
  ];
}

async function showTrainingData(api: ServerApi, logger: Logger): Promise<void> {
  let summary: TrainingDataSummary;
  try {
    summary = await api.execute<TrainingDataSummary>(ServerCommands.trainingData, {});
  } catch (error) {
    await showCommandError(logger, 'Training data', error);
    return;
  }
  logger.info(`Training data: ${JSON.stringify(summary)}`);
  const line = `Training data${summary.path ? ` in ${summary.path}` : ''}: ${formatTrainingSummary(summary)}.`;
  const choice = await vscode.window.showInformationMessage(
    `EvoSelfCode: ${line}`,
    ...(summary.path ? ['Open file'] : []),
  );
  if (choice === 'Open file' && summary.path) {
    try {
      await vscode.window.showTextDocument(vscode.Uri.file(summary.path), { preview: true });
    } catch (error) {
      // A store with no record yet has no file.
      await showCommandError(logger, `Could not open ${summary.path}`, error);
    }
  }
}

async function showCompletionOutcomes(api: ServerApi, logger: Logger): Promise<void> {
  let log: CompletionOutcomesLog;
  try {
    log = await api.execute<CompletionOutcomesLog>(ServerCommands.completionOutcomes, {});
  } catch (error) {
    await showCommandError(logger, 'Completion outcomes', error);
    return;
  }
  const session = outcomeDetails(log.session).join('; ') || 'no suggestions shown this session';
  const off = log.enabled ? '' : ' Recording is off (evoselfcode.completion.recordOutcomes).';
  const choice = await vscode.window.showInformationMessage(
    `EvoSelfCode: ${log.records} suggestion outcomes in ${log.path}. ${session}.${off}`,
    ...(log.records > 0 ? ['Open log'] : []),
  );
  if (choice === 'Open log') {
    try {
      await vscode.window.showTextDocument(vscode.Uri.file(log.path), { preview: true });
    } catch (error) {
      await showCommandError(logger, `Could not open ${log.path}`, error);
    }
  }
}

async function promoteAdapter(api: ServerApi, logger: Logger): Promise<void> {
  try {
    const state = await api.execute<AdapterRegistryState>(ServerCommands.adapters, {
      action: 'list',
    });
    const adapters = state.adapters ?? [];
    if (adapters.length === 0) {
      vscode.window.showInformationMessage(
        'EvoSelfCode: no adapters yet; run "Fine-tune local model" first.',
      );
      return;
    }
    const picked = await vscode.window.showQuickPick(
      adapters.map((adapter) => ({
        label: adapter.id,
        description: describeAdapter(adapter, state),
        id: adapter.id,
      })),
      {
        title: 'EvoSelfCode: Promote adapter',
        placeHolder: 'The promoted adapter serves completions',
      },
    );
    if (!picked) return;
    const promote = (force: boolean) =>
      api.execute<AdapterRegistryState>(ServerCommands.adapters, {
        action: 'promote',
        id: picked.id,
        force,
      });
    let after: AdapterRegistryState;
    try {
      after = await promote(false);
    } catch (error) {
      // The promotion gate found it worse than the serving model: the user may overrule it.
      const choice = await vscode.window.showWarningMessage(
        `EvoSelfCode: ${errorMessage(error)}`,
        { modal: true },
        'Promote anyway',
      );
      if (choice !== 'Promote anyway') return;
      after = await promote(true);
    }
    vscode.window.showInformationMessage(
      `EvoSelfCode: adapter ${after.promoted ?? picked.id} promoted; it serves completions now.`,
    );
  } catch (error) {
    await showCommandError(logger, 'Promoting the adapter', error);
  }
}

async function rollbackAdapter(api: ServerApi, logger: Logger): Promise<void> {
  const confirm = await vscode.window.showWarningMessage(
    'Roll back to the previously promoted adapter?',
    { modal: true },
    'Roll back',
  );
  if (confirm !== 'Roll back') return;
  try {
    const after = await api.execute<AdapterRegistryState>(ServerCommands.adapters, {
      action: 'rollback',
    });
    vscode.window.showInformationMessage(
      `EvoSelfCode: rolled back; ${after.promoted ? `adapter ${after.promoted} serves` : 'the base model serves'} completions.`,
    );
  } catch (error) {
    await showCommandError(logger, 'Rolling back the adapter', error);
  }
}

/**
 * Fine-tuning and evaluation: started by command, run in the server's background with
 * `$/progress` (shown by ServerProgressUi, with Cancel), finished by a result notification.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { LanguageClient } from 'vscode-languageclient/node';
import { Logger } from '../common/logging';
import {
  EvaluationResult,
  FinetuneResult,
  Notifications,
  ServerCommands,
} from '../common/protocol';
import { ServerApi } from '../common/serverApi';
import { setting } from '../common/settings';
import { showCommandError } from '../common/ui';
import { formatEvaluationResult, formatFinetuneResult } from './resultFormat';

const HUMANEVAL_TASKS = 164;

export function registerRunCommands(api: ServerApi, logger: Logger): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand('evoselfcode.evaluate', (limit?: number) =>
      evaluate(api, logger, limit),
    ),
    vscode.commands.registerCommand('evoselfcode.fineTune', () => fineTune(api, logger)),
    vscode.commands.registerCommand('evoselfcode.fineTuneWorkspace', () =>
      fineTuneWorkspace(api, logger),
    ),
  ];
}

/** Result notifications; registered on every new client before it starts. */
export function registerRunNotifications(client: LanguageClient, logger: Logger): void {
  client.onNotification(Notifications.evaluationResult, (result: EvaluationResult) => {
    const line = formatEvaluationResult(result);
    logger.info(line);
    void offerFile(
      line,
      'Open summary',
      result.outDir ? path.join(result.outDir, 'summary.json') : undefined,
    );
  });
  client.onNotification(Notifications.finetuneResult, (result: FinetuneResult) => {
    const line = formatFinetuneResult(result);
    if (result.status === 'failed') {
      logger.error(line);
      void vscode.window.showErrorMessage(`EvoSelfCode: ${line}`, 'Show logs').then((choice) => {
        if (choice) logger.show();
      });
      return;
    }
    logger.info(line);
    void offerFile(line, 'Open report', result.reportPath ?? undefined);
  });
}

async function offerFile(message: string, action: string, file: string | undefined): Promise<void> {
  const choice = await vscode.window.showInformationMessage(
    `EvoSelfCode: ${message}`,
    ...(file ? [action] : []),
  );
  if (choice && file) await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(file));
}

/** Asks how many tasks (unless given), then starts the evaluation. */
async function evaluate(api: ServerApi, logger: Logger, limit?: number): Promise<void> {
  if (typeof limit !== 'number') {
    const configured = setting<number>('evaluation.limit', 0);
    const answer = await vscode.window.showInputBox({
      title: 'EvoSelfCode: Evaluate on HumanEval',
      prompt: `How many tasks? (1–${HUMANEVAL_TASKS}; empty for all)`,
      value: configured > 0 ? String(configured) : '',
      validateInput: (value) =>
        value.trim() === '' || /^[1-9]\d*$/.test(value.trim())
          ? undefined
          : 'A whole number of tasks, or empty for all.',
    });
    if (answer === undefined) return;
    limit = answer.trim() === '' ? 0 : Number(answer.trim());
  }
  try {
    const dataset = setting<string>('evaluation.dataset', 'humaneval');
    const started = await api.execute<{ runId?: string }>(ServerCommands.evaluate, {
      dataset,
      limit,
    });
    logger.info(`Evaluation ${started.runId ?? ''} started: ${dataset}, ${limit || 'all'} tasks.`);
  } catch (error) {
    await showCommandError(logger, 'Evaluation', error);
  }
}

async function fineTune(api: ServerApi, logger: Logger): Promise<void> {
  try {
    const started = await api.execute<{ runId?: string }>(ServerCommands.fineTune, {});
    logger.info(`Fine-tuning ${started.runId ?? ''} started.`);
  } catch (error) {
    await showCommandError(logger, 'Fine-tuning', error);
  }
}

/**
 * The completion adapter of the workspace's first folder (the one the server serves it in):
 * a FIM LoRA trained on that folder's own Python files, judged on its held-out files.
 */
async function fineTuneWorkspace(api: ServerApi, logger: Logger): Promise<void> {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder || folder.uri.scheme !== 'file') {
    void vscode.window.showErrorMessage(
      'EvoSelfCode: open a folder first: the completion adapter learns from its Python files.',
    );
    return;
  }
  try {
    const started = await api.execute<{ runId?: string }>(ServerCommands.fineTune, {
      overrides: { workspace: folder.uri.fsPath },
    });
    logger.info(`Fine-tuning ${started.runId ?? ''} started on ${folder.uri.fsPath}.`);
  } catch (error) {
    await showCommandError(logger, 'Fine-tuning on the workspace', error);
  }
}

/** Used by the status bar menu (the progress notification's Cancel does the same). */
export async function cancelFineTune(api: ServerApi, logger: Logger): Promise<void> {
  try {
    const { cancelled } = await api.execute<{ cancelled: boolean }>(
      ServerCommands.cancelFineTune,
      {},
    );
    vscode.window.showInformationMessage(
      cancelled
        ? 'EvoSelfCode: fine-tuning cancelled.'
        : 'EvoSelfCode: no fine-tuning run to cancel.',
    );
  } catch (error) {
    await showCommandError(logger, 'Cancelling fine-tuning', error);
  }
}

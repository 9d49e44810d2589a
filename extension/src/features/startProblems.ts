/**
 * Tells the user why the server cannot run and offers the fixes: install the missing packages
 * into the chosen interpreter, select another interpreter, show the logs, restart.
 */
import { spawn } from 'node:child_process';
import * as vscode from 'vscode';
import { Logger } from '../common/logging';
import { selectInterpreter } from '../common/python';
import { ServerManager } from '../common/server';
import { Fix, StartProblem } from '../common/startDiagnosis';

const FIX_LABELS: Record<Fix, string> = {
  installDependencies: 'Install dependencies',
  selectInterpreter: 'Select interpreter',
  showLogs: 'Show logs',
  restart: 'Restart server',
};

export async function showStartProblem(
  problem: StartProblem,
  server: ServerManager,
  logger: Logger,
): Promise<void> {
  const labels = problem.fixes.map((fix) => FIX_LABELS[fix]);
  const choice = await vscode.window.showErrorMessage(`EvoSelfCode: ${problem.reason}`, ...labels);
  const fix = problem.fixes.find((f) => FIX_LABELS[f] === choice);
  switch (fix) {
    case 'installDependencies':
      if (await installDependencies(problem, server, logger)) await server.restart();
      break;
    case 'selectInterpreter':
      await selectInterpreter();
      break;
    case 'showLogs':
      logger.show();
      break;
    case 'restart':
      await server.restart();
      break;
    case undefined:
      break;
  }
}

/** `python -m pip install <missing requirements>` with progress; output goes to the log. */
async function installDependencies(
  problem: StartProblem,
  server: ServerManager,
  logger: Logger,
): Promise<boolean> {
  const python = server.interpreter?.command;
  if (!python) return false;
  const specs = problem.missing?.length
    ? problem.missing
    : server.requirements().map((r) => r.spec);
  const args = ['-m', 'pip', 'install', '--disable-pip-version-check', ...specs];
  logger.info(`$ ${python} ${args.join(' ')}`);
  logger.show();
  const ok = await vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: `EvoSelfCode: installing ${specs.length} package(s) into ${python}`,
      cancellable: true,
    },
    (progress, token) =>
      new Promise<boolean>((resolve) => {
        const child = spawn(python, args, { env: { ...process.env, PIP_NO_INPUT: '1' } });
        token.onCancellationRequested(() => child.kill());
        const onData = (chunk: Buffer) => {
          for (const line of chunk.toString().split(/\r?\n/).filter(Boolean)) {
            logger.info(line);
            if (/^(Collecting|Downloading|Installing|Successfully)/.test(line)) {
              progress.report({ message: line.slice(0, 80) });
            }
          }
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        child.on('error', (error) => {
          logger.error(`pip could not run: ${error.message}`);
          resolve(false);
        });
        child.on('close', (code) => resolve(code === 0));
      }),
  );
  if (!ok) {
    const choice = await vscode.window.showErrorMessage(
      `EvoSelfCode: installing the packages into ${python} failed; the log says why.`,
      'Show logs',
      'Select interpreter',
    );
    if (choice === 'Show logs') logger.show();
    if (choice === 'Select interpreter') await selectInterpreter();
  }
  return ok;
}

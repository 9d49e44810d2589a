/**
 * One cancellable notification for a long request (self-evolve, instruction to code): it
 * shows the request's own progress reports and the server progress the request starts, and
 * Cancel stops both ($/cancelRequest for the request, window/workDoneProgress/cancel for the
 * server's progress).
 */
import * as vscode from 'vscode';
import { ExecuteOptions } from '../common/serverApi';
import { ServerProgressUi } from './serverProgress';

export function withRequestProgress<T>(
  progressUi: ServerProgressUi,
  title: string,
  firstMessage: string,
  task: (options: ExecuteOptions) => Promise<T>,
): Thenable<T> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title, cancellable: true },
    async (progress, token) => {
      progress.report({ message: firstMessage });
      const onProgress = (message: string | undefined) => {
        if (message) progress.report({ message });
      };
      const claim = progressUi.claim(onProgress);
      const cancelled = token.onCancellationRequested(() => claim.cancelServerProgress());
      try {
        return await task({ token, onProgress });
      } finally {
        cancelled.dispose();
        claim.dispose();
      }
    },
  );
}

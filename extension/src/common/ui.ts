/** Small helpers shared by the commands: error text and how errors are shown. */
import * as vscode from 'vscode';
import { ResponseError } from 'vscode-languageclient/node';
import { Cancelled, CommandUnsupported, ServerUnavailable } from './errors';
import { Logger } from './logging';

export function errorMessage(error: unknown): string {
  if (error instanceof ResponseError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * Shows a failed command's error (never a cancellation) with the actions that help:
 * Restart server when it is not running, Show logs always.
 */
export async function showCommandError(
  logger: Logger,
  what: string,
  error: unknown,
): Promise<void> {
  if (error instanceof Cancelled) return;
  const message = logger.redact(`${what}: ${errorMessage(error)}`);
  logger.error(message);
  const actions =
    error instanceof ServerUnavailable ? ['Restart server', 'Show logs'] : ['Show logs'];
  if (error instanceof CommandUnsupported) actions.length = 0;
  const choice = await vscode.window.showErrorMessage(message, ...actions);
  if (choice === 'Restart server') {
    await vscode.commands.executeCommand('evoselfcode.restartServer');
  }
  if (choice === 'Show logs') logger.show();
}

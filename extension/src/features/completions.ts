/**
 * Inline completions come from the language server through vscode-languageclient 11, where
 * `textDocument/inlineCompletion` is a standard feature (9.x needed registerProposedFeatures;
 * in 11 that call registers nothing). This module adds the on/off switch.
 */
import * as vscode from 'vscode';
import { Middleware } from 'vscode-languageclient/node';
import { completionsEnabled, setCompletionsEnabled } from '../common/settings';

/** Answers nothing while completions are off, without a round trip to the server. */
export const completionMiddleware: Middleware = {
  provideInlineCompletionItems: (document, position, context, token, next) =>
    completionsEnabled() ? next(document, position, context, token) : undefined,
};

export function registerCompletionCommands(): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand('evoselfcode.toggleCompletions', async () => {
      const enabled = !completionsEnabled();
      await setCompletionsEnabled(enabled);
      vscode.window.setStatusBarMessage(
        `EvoSelfCode: inline completions ${enabled ? 'on' : 'off'}`,
        3000,
      );
    }),
  ];
}

/**
 * EvoSelfCode for VS Code: starts the Python language server and wires its features to the
 * editor (inline completions, self-evolve, fine-tuning, evaluation, status bar, API keys).
 * The logic lives in common/ (server process, settings, logging) and features/ (one per UI part).
 */
import * as vscode from 'vscode';
import { WorkDoneProgressCancelNotification } from 'vscode-languageclient/node';
import { Logger } from './common/logging';
import { onDidChangePythonInterpreter } from './common/python';
import { findServerLayout } from './common/layout';
import { ServerManager } from './common/server';
import { ServerApi } from './common/serverApi';
import { SECTION } from './common/settings';
import { ApiKeyStore, pushApiKeys, registerApiKeyCommand } from './features/apiKeys';
import { completionMiddleware, registerCompletionCommands } from './features/completions';
import { registerDataCommands } from './features/dataCommands';
import { registerInstructionCommands } from './features/instructions';
import { PROPOSAL_SCHEME, ProposalStore } from './features/proposals';
import { cancelFineTune, registerRunCommands, registerRunNotifications } from './features/runs';
import { registerSelfEvolve } from './features/selfEvolve';
import { ServerProgressUi } from './features/serverProgress';
import { showStartProblem } from './features/startProblems';
import { StatusBar } from './features/statusBar';
import { StatusAction } from './features/statusFormat';

let server: ServerManager | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const logger = new Logger();
  const keys = new ApiKeyStore(context.secrets);
  const storedKeys = await keys.get();
  logger.setSecrets([storedKeys.generator, storedKeys.verifier]);
  keys.onDidChange((k) => logger.setSecrets([k.generator, k.verifier]));

  // Commands the extension registers itself: the client must not register the server's
  // commands of the same name (the code action's `evoselfcode.selfEvolve` lands here).
  const ownCommands = new Set<string>(
    (context.extension.packageJSON.contributes?.commands ?? []).map(
      (c: { command: string }) => c.command,
    ),
  );
  const progressUi = new ServerProgressUi((token) => {
    void manager.running?.sendNotification(WorkDoneProgressCancelNotification.type, { token });
  });
  const middleware = { ...completionMiddleware, ...progressUi.middleware };
  const manager = new ServerManager(
    findServerLayout(context.extensionPath),
    logger,
    middleware,
    ownCommands,
  );
  server = manager;
  const api = new ServerApi(manager);
  const proposals = new ProposalStore();
  const evolveDeps = { api, server: manager, proposals, progressUi, logger };

  const runAction = (action: StatusAction): Thenable<unknown> =>
    action === 'cancelFineTune'
      ? cancelFineTune(api, logger)
      : vscode.commands.executeCommand(`evoselfcode.${action}`);
  const statusBar = new StatusBar(manager, api, async (action) => runAction(action));

  context.subscriptions.push(
    logger,
    keys,
    manager,
    progressUi,
    proposals,
    statusBar,
    vscode.workspace.registerTextDocumentContentProvider(PROPOSAL_SCHEME, proposals),
    manager.onDidCreateClient((client) => {
      statusBar.attach(client);
      registerRunNotifications(client, logger);
    }),
    manager.onDidBecomeReady(() => void pushApiKeys(api, keys, logger)),
    manager.onDidChangeState(({ state }) => {
      if (state !== 'running') progressUi.clear();
    }),
    manager.onProblem((problem) => void showStartProblem(problem, manager, logger)),
    vscode.commands.registerCommand('evoselfcode.restartServer', () => manager.restart()),
    vscode.commands.registerCommand('evoselfcode.showLogs', () => logger.show()),
    ...registerCompletionCommands(),
    ...registerSelfEvolve(evolveDeps),
    ...registerInstructionCommands(evolveDeps),
    ...registerRunCommands(api, logger),
    ...registerDataCommands(api, logger),
    registerApiKeyCommand(api, keys, logger),
    vscode.workspace.onDidChangeConfiguration((event) => {
      // The interpreter is fixed for a process's life; every other setting reaches the
      // running server through workspace/didChangeConfiguration.
      if (event.affectsConfiguration(`${SECTION}.python`)) void manager.restart();
    }),
  );
  const pythonChanges = await onDidChangePythonInterpreter(() => {
    if (manager.interpreter?.source === 'pythonExtension') void manager.restart();
  });
  if (pythonChanges) context.subscriptions.push(pythonChanges);

  void manager.start();
}

export async function deactivate(): Promise<void> {
  await server?.stop();
  server = undefined;
}

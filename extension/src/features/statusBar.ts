/**
 * The status bar item: model and state, latency p50, the last evaluation's pass@1 with its
 * model version, fine-tuning progress. Fed by `evoselfcode/status` (and the result
 * notifications); a click opens a quick pick with the details and the actions.
 */
import * as vscode from 'vscode';
import { LanguageClient } from 'vscode-languageclient/node';
import { ConnectionState } from '../common/connection';
import {
  EvaluationResult,
  Notifications,
  ServerCommand,
  ServerCommands,
  ServerStatus,
} from '../common/protocol';
import { ServerApi } from '../common/serverApi';
import { ServerManager } from '../common/server';
import { completionsEnabled, SECTION } from '../common/settings';
import { formatStatusBar, statusDetails, StatusAction, statusMenu } from './statusFormat';

export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private readonly disposables: vscode.Disposable[] = [];
  private status: ServerStatus | undefined;
  private connection: ConnectionState = 'stopped';
  private failure: string | undefined;

  constructor(
    server: ServerManager,
    private readonly api: ServerApi,
    private readonly runAction: (action: StatusAction) => Promise<unknown>,
  ) {
    this.item = vscode.window.createStatusBarItem(
      'evoselfcode.status',
      vscode.StatusBarAlignment.Right,
      100,
    );
    this.item.name = 'EvoSelfCode';
    this.item.command = 'evoselfcode.showStatus';
    this.disposables.push(
      this.item,
      server.onDidChangeState(({ state, problem }) => {
        this.connection = state;
        this.failure = problem?.reason;
        if (state !== 'running') this.status = undefined;
        this.render();
      }),
      server.onDidBecomeReady(() => void this.refresh()),
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (event.affectsConfiguration(`${SECTION}.completion.enabled`)) this.render();
      }),
      vscode.commands.registerCommand('evoselfcode.showStatus', () => this.showMenu()),
    );
    this.render();
    this.item.show();
  }

  /** Registers the notification handlers on a new client (before it starts). */
  attach(client: LanguageClient): void {
    client.onNotification(Notifications.status, (status: ServerStatus) => this.update(status));
    client.onNotification(Notifications.evaluationResult, (result: EvaluationResult) => {
      if (!this.status) return;
      const evaluation = {
        passAt1: result.passAt1,
        modelVersion: result.modelVersion,
        dataset: result.dataset,
        tasks: result.tasks,
      };
      this.update({ ...this.status, evaluation });
    });
  }

  update(status: ServerStatus): void {
    this.status = status;
    this.render();
  }

  /** Asks the server for its status (it may have been sent before the handlers existed). */
  private async refresh(): Promise<void> {
    if (!this.api.supports(ServerCommands.status)) return;
    try {
      this.update(await this.api.execute<ServerStatus>(ServerCommands.status, {}));
    } catch {
      // The next evoselfcode/status notification brings it.
    }
  }

  private render(): void {
    const view = formatStatusBar(this.connection, this.status, completionsEnabled(), this.failure);
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.backgroundColor =
      view.severity === 'error'
        ? new vscode.ThemeColor('statusBarItem.errorBackground')
        : view.severity === 'warning'
          ? new vscode.ThemeColor('statusBarItem.warningBackground')
          : undefined;
  }

  private async showMenu(): Promise<void> {
    type Item = vscode.QuickPickItem & { action?: StatusAction };
    const details = this.status
      ? statusDetails(this.status, completionsEnabled())
      : [this.failure ?? `Server: ${this.connection}`];
    const items: Item[] = [
      { label: 'Status', kind: vscode.QuickPickItemKind.Separator },
      ...details.map((line) => ({ label: line })),
      { label: 'Actions', kind: vscode.QuickPickItemKind.Separator },
      ...statusMenu(this.connection, this.status, completionsEnabled(), (command) =>
        this.api.supports(command as ServerCommand),
      ),
    ];
    const picked = await vscode.window.showQuickPick(items, {
      title: 'EvoSelfCode',
      matchOnDescription: true,
    });
    if (picked?.action) await this.runAction(picked.action);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}

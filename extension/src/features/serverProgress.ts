/**
 * Progress the server starts itself (`window/workDoneProgress/create`: fine-tuning,
 * evaluation) is shown as a notification with a Cancel button when the server allows it;
 * Cancel sends `window/workDoneProgress/cancel`. vscode-languageclient would show it only as
 * a status-bar spinner that cannot be cancelled. Progress of the client's own requests
 * (tokens made by ServerApi) goes on to their callers.
 */
import * as vscode from 'vscode';
import {
  Middleware,
  ProgressToken,
  WorkDoneProgressBegin,
  WorkDoneProgressEnd,
  WorkDoneProgressReport,
} from 'vscode-languageclient/node';
import { isClientProgressToken } from '../common/serverApi';
import { ProgressClaims, ProgressSink } from './progressClaims';

/** A request's claim on the next server progress; see ServerProgressUi.claim. */
export interface ProgressClaim extends vscode.Disposable {
  /** Sends `window/workDoneProgress/cancel` for the claimed progress, if any began. */
  cancelServerProgress(): void;
}

interface ActiveProgress {
  progress?: vscode.Progress<{ message?: string; increment?: number }>;
  /** Percentage shown so far (VS Code takes increments). */
  reported: number;
  percentage?: number;
  message?: string;
  ended: boolean;
  finish: () => void;
}

export class ServerProgressUi implements vscode.Disposable {
  private readonly active = new Map<ProgressToken, ActiveProgress>();
  private readonly claims = new ProgressClaims<ProgressToken>();

  /** @param cancel sends `window/workDoneProgress/cancel` for a token to the server. */
  constructor(private readonly cancel: (token: ProgressToken) => void) {}

  readonly middleware: Middleware = {
    handleWorkDoneProgress: (token, params, next) => {
      if (isClientProgressToken(token)) {
        next(token, params);
        return;
      }
      this.handle(token, params);
      // The client's own part only needs the end, to forget the token.
      if (params.kind === 'end') next(token, params);
    },
  };

  /**
   * For a request that shows its own cancellable notification: the server progress it starts
   * reports into `sink` (see ProgressClaims). Dispose the claim when the request ends.
   */
  claim(sink: ProgressSink): ProgressClaim {
    const handle = this.claims.open(sink);
    return {
      cancelServerProgress: () => {
        const token = handle.token();
        if (token !== undefined) this.cancel(token);
      },
      dispose: () => handle.close(),
    };
  }

  private handle(
    token: ProgressToken,
    params: WorkDoneProgressBegin | WorkDoneProgressReport | WorkDoneProgressEnd,
  ): void {
    if (this.claims.route(token, params)) return;
    if (params.kind === 'begin') this.begin(token, params);
    else if (params.kind === 'report') this.report(token, params);
    else this.end(token);
  }

  private begin(token: ProgressToken, params: WorkDoneProgressBegin): void {
    const entry: ActiveProgress = {
      reported: 0,
      percentage: params.percentage,
      message: params.message,
      ended: false,
      finish: () => undefined,
    };
    this.active.set(token, entry);
    void vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: params.title.startsWith('EvoSelfCode')
          ? params.title
          : `EvoSelfCode: ${params.title}`,
        cancellable: params.cancellable ?? false,
      },
      (progress, cancellation) =>
        new Promise<void>((resolve) => {
          if (entry.ended) return resolve();
          entry.progress = progress;
          entry.finish = resolve;
          cancellation.onCancellationRequested(() => this.cancel(token));
          this.show(entry);
        }),
    );
  }

  private report(token: ProgressToken, params: WorkDoneProgressReport): void {
    const entry = this.active.get(token);
    if (!entry) return;
    if (params.message) entry.message = params.message;
    if (typeof params.percentage === 'number') entry.percentage = params.percentage;
    this.show(entry);
  }

  /** Pushes the latest message and percentage to the notification, once it exists. */
  private show(entry: ActiveProgress): void {
    if (!entry.progress) return;
    let increment: number | undefined;
    if (typeof entry.percentage === 'number') {
      const percentage = Math.max(0, Math.min(100, entry.percentage));
      increment = Math.max(0, percentage - entry.reported);
      entry.reported += increment;
    }
    entry.progress.report({ message: entry.message, increment });
  }

  private end(token: ProgressToken): void {
    const entry = this.active.get(token);
    if (!entry) return;
    entry.ended = true;
    entry.finish();
    this.active.delete(token);
  }

  /** Ends every notification (the server stopped: no end will come). */
  clear(): void {
    for (const token of [...this.active.keys()]) this.end(token);
  }

  dispose(): void {
    this.clear();
  }
}

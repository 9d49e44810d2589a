/** Typed calls of the server's `workspace/executeCommand` commands (ARCHITECTURE.md). */
import * as vscode from 'vscode';
import {
  ExecuteCommandRequest,
  ProgressToken,
  WorkDoneProgress,
  WorkDoneProgressBegin,
  WorkDoneProgressReport,
} from 'vscode-languageclient/node';
import { Cancelled, CommandUnsupported, ServerUnavailable } from './errors';
import { ServerCommand } from './protocol';
import { ServerManager } from './server';

export interface ExecuteOptions {
  /** Cancelling it sends `$/cancelRequest` to the server. */
  token?: vscode.CancellationToken;
  /** Receives the server's `$/progress` reports for this request (client-initiated progress). */
  onProgress?: (message: string | undefined, percentage: number | undefined) => void;
}

const CLIENT_TOKEN_PREFIX = `evoselfcode-client-${process.pid}-`;
let nextProgressToken = 0;

/** True for progress tokens the client made for its own requests. */
export function isClientProgressToken(token: ProgressToken): boolean {
  return typeof token === 'string' && token.startsWith(CLIENT_TOKEN_PREFIX);
}

export class ServerApi {
  constructor(private readonly server: ServerManager) {}

  /** True when the running server lists the command in its capabilities. */
  supports(command: ServerCommand): boolean {
    const commands =
      this.server.running?.initializeResult?.capabilities.executeCommandProvider?.commands;
    return !!commands?.includes(command);
  }

  async execute<T>(
    command: ServerCommand,
    argument?: object,
    options: ExecuteOptions = {},
  ): Promise<T> {
    const client = await this.server.whenRunning();
    if (!client) {
      const why = this.server.lastProblem?.reason ?? 'It is not running.';
      throw new ServerUnavailable(`The EvoSelfCode server is not available. ${why}`);
    }
    if (!this.supports(command)) throw new CommandUnsupported(command);
    const workDoneToken: ProgressToken | undefined = options.onProgress
      ? `${CLIENT_TOKEN_PREFIX}${++nextProgressToken}`
      : undefined;
    const progress =
      workDoneToken !== undefined
        ? client.onProgress(WorkDoneProgress.type, workDoneToken, (value) => {
            if (value.kind === 'end') return;
            const report = value as WorkDoneProgressBegin | WorkDoneProgressReport;
            options.onProgress?.(report.message, report.percentage);
          })
        : undefined;
    try {
      const params = {
        command,
        arguments: argument === undefined ? [] : [argument],
        workDoneToken,
      };
      return (await client.sendRequest(ExecuteCommandRequest.type, params, options.token)) as T;
    } catch (error) {
      if (options.token?.isCancellationRequested) throw new Cancelled();
      throw error;
    } finally {
      progress?.dispose();
    }
  }
}

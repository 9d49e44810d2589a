/**
 * Starts, watches and restarts the Python language server (`python -m server serve` on stdio).
 *
 * Before each start a preflight run of the chosen interpreter checks its version and the
 * required packages, so a broken environment is reported with its cause and a fix instead of
 * a bare crash. Crashes restart the server a bounded number of times (RestartBudget).
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import * as vscode from 'vscode';
import {
  CloseAction,
  ErrorAction,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  RevealOutputChannelOn,
  ServerOptions,
  State,
} from 'vscode-languageclient/node';
import { ConnectionState } from './connection';
import { InterpreterChoice } from './interpreter';
import { ServerLayout } from './layout';
import { LineTail } from './lineTail';
import { Logger } from './logging';
import { parseDependencies, Requirement } from './pyproject';
import { resolveInterpreter } from './python';
import { RestartBudget } from './restartBudget';
import { SECTION, serverSettings } from './settings';
import {
  describeExit,
  diagnosePreflight,
  diagnoseServerExit,
  diagnoseSpawnError,
  parsePreflightOutput,
  PREFLIGHT_SCRIPT,
  StartProblem,
} from './startDiagnosis';

export const CLIENT_ID = 'evoselfcode';
const PREFLIGHT_TIMEOUT_MS = 60_000;

export interface ConnectionChange {
  state: ConnectionState;
  problem?: StartProblem;
}

export class ServerManager implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private state: ConnectionState = 'stopped';
  private problem: StartProblem | undefined;
  private stopping = false;
  /** True while startOnce waits for the first initialize; a crash then is reported there. */
  private firstStart = false;
  /** How the running server process ends ("exit code 1", "signal SIGKILL"). */
  private processExit: Promise<string | undefined> = Promise.resolve(undefined);
  private startChain: Promise<void> = Promise.resolve();
  private readonly budget = new RestartBudget();
  private readonly stderrTail = new LineTail();
  private readonly stateEmitter = new vscode.EventEmitter<ConnectionChange>();
  private readonly createdEmitter = new vscode.EventEmitter<LanguageClient>();
  private readonly readyEmitter = new vscode.EventEmitter<LanguageClient>();
  private readonly problemEmitter = new vscode.EventEmitter<StartProblem>();

  /** The connection state changed (starting, running, stopped, failed). */
  readonly onDidChangeState = this.stateEmitter.event;
  /** A new client exists and has not started yet: register notification handlers here. */
  readonly onDidCreateClient = this.createdEmitter.event;
  /** The server is up (after every start and every automatic restart). */
  readonly onDidBecomeReady = this.readyEmitter.event;
  /** The server cannot run; the user should be told and offered fixes. */
  readonly onProblem = this.problemEmitter.event;

  interpreter: InterpreterChoice | undefined;

  constructor(
    private readonly layout: ServerLayout,
    private readonly logger: Logger,
    private readonly middleware: LanguageClientOptions['middleware'],
    /** Commands the extension registers itself; the client must not register them again. */
    private readonly ownCommands: ReadonlySet<string>,
  ) {}

  /** The running client, or undefined when the server is not up. */
  get running(): LanguageClient | undefined {
    return this.state === 'running' ? this.client : undefined;
  }

  get connectionState(): ConnectionState {
    return this.state;
  }

  get lastProblem(): StartProblem | undefined {
    return this.problem;
  }

  /** The server's runtime requirements (from the bundled pyproject.toml). */
  requirements(): Requirement[] {
    const pyproject = path.join(this.layout.pythonRoot, 'pyproject.toml');
    return parseDependencies(fs.readFileSync(pyproject, 'utf8'));
  }

  /** Starts the server; calls are serialized, so a restart during a start waits for it. */
  start(): Promise<void> {
    this.startChain = this.startChain.then(() => this.startOnce());
    return this.startChain;
  }

  /** Stops, then starts with a fresh crash budget (the "Restart server" command). */
  restart(): Promise<void> {
    this.startChain = this.startChain.then(async () => {
      this.budget.reset();
      await this.stopClient();
      await this.startOnce();
    });
    return this.startChain;
  }

  /**
   * The running client once no start is in progress; while an automatic restart after a
   * crash is under way, waits up to `timeoutMs` for it. Undefined if it does not come up.
   */
  async whenRunning(timeoutMs = 30_000): Promise<LanguageClient | undefined> {
    await this.startChain;
    if (this.state !== 'starting') return this.running;
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(undefined), timeoutMs);
      const listener = this.onDidChangeState(({ state }) => {
        if (state !== 'starting') done(this.running);
      });
      function done(client: LanguageClient | undefined) {
        clearTimeout(timer);
        listener.dispose();
        resolve(client);
      }
    });
  }

  async stop(): Promise<void> {
    await this.startChain;
    await this.stopClient();
  }

  dispose(): void {
    void this.stopClient();
    this.stateEmitter.dispose();
    this.createdEmitter.dispose();
    this.readyEmitter.dispose();
    this.problemEmitter.dispose();
  }

  private async startOnce(): Promise<void> {
    if (this.client) return;
    this.problem = undefined;
    this.setState('starting');
    const interpreter = await resolveInterpreter(this.layout.checkoutRoot);
    this.interpreter = interpreter;
    this.logger.info(`Python: ${interpreter.command} (from ${interpreter.source})`);
    const env = this.serverEnvironment();
    const problem = await this.preflight(interpreter, env);
    if (problem) {
      this.fail(problem);
      return;
    }
    const client = this.createClient(interpreter, env);
    this.client = client;
    this.createdEmitter.fire(client);
    this.firstStart = true;
    try {
      await client.start();
    } catch (error) {
      this.logger.error(`The server did not start: ${String(error)}`);
      this.client = undefined;
      await this.disposeClient(client);
      this.fail(diagnoseServerExit(this.stderrTail.text));
    } finally {
      this.firstStart = false;
    }
  }

  private serverEnvironment(): NodeJS.ProcessEnv {
    const pythonPath = [this.layout.pythonRoot, process.env.PYTHONPATH]
      .filter(Boolean)
      .join(path.delimiter);
    return {
      ...process.env,
      PYTHONPATH: pythonPath,
      PYTHONUNBUFFERED: '1',
      PYTHONIOENCODING: 'utf-8',
    };
  }

  private preflight(
    interpreter: InterpreterChoice,
    env: NodeJS.ProcessEnv,
  ): Promise<StartProblem | undefined> {
    let requirements: Requirement[];
    try {
      requirements = this.requirements();
    } catch (error) {
      return Promise.resolve({
        reason: `The extension's Python packages are incomplete (${String(error)}); reinstall the extension.`,
        fixes: ['showLogs'],
      });
    }
    const names = JSON.stringify(requirements.map((r) => r.name));
    return new Promise((resolve) => {
      execFile(
        interpreter.command,
        ['-c', PREFLIGHT_SCRIPT, names],
        { env, cwd: this.layout.pythonRoot, timeout: PREFLIGHT_TIMEOUT_MS },
        (error, stdout, stderr) => {
          const spawnError = error as NodeJS.ErrnoException | null;
          if (spawnError && typeof spawnError.code === 'string') {
            resolve(diagnoseSpawnError(spawnError, interpreter));
            return;
          }
          try {
            const report = parsePreflightOutput(stdout);
            const context = { interpreter, requirements, pythonRoot: this.layout.pythonRoot };
            resolve(diagnosePreflight(report, context));
          } catch {
            this.logger.error(`Preflight of ${interpreter.command} failed:\n${stderr || stdout}`);
            resolve({
              reason: `${interpreter.command} could not run the server's environment check (is it Python 3.10+?): ${lastLine(stderr || stdout)}`,
              fixes: ['selectInterpreter', 'showLogs'],
            });
          }
        },
      );
    });
  }

  private createClient(interpreter: InterpreterChoice, env: NodeJS.ProcessEnv): LanguageClient {
    const serverOptions: ServerOptions = {
      command: interpreter.command,
      args: ['-m', 'server', 'serve'],
      options: { env, cwd: this.layout.pythonRoot },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [
        { scheme: 'file', language: 'python' },
        { scheme: 'untitled', language: 'python' },
      ],
      // clientUi: this extension shows self-evolve results itself (diff, Accept / Reject), so
      // the server must not ask with window/showMessageRequest as it does for plain clients.
      initializationOptions: () => ({ ...serverSettings(), clientUi: true }),
      synchronize: { configurationSection: SECTION },
      outputChannel: this.logger.clientChannel,
      traceOutputChannel: this.logger.clientChannel,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationFailedHandler: () => false,
      errorHandler: {
        error: (_error, _message, count) => ({
          action: count !== undefined && count <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown,
          handled: true,
        }),
        closed: () => this.onClosed(),
      },
      middleware: this.middleware,
      stdioOptions: {
        stdout: () => undefined,
        stderr: (input) => {
          this.stderrTail.clear();
          readline
            .createInterface({ input, crlfDelay: Infinity, terminal: false })
            .on('line', (line) => {
              this.stderrTail.push(`${line}\n`);
              this.logger.serverLine(line, this.state === 'running');
            });
        },
      },
    };
    const client = new LanguageClient(CLIENT_ID, 'EvoSelfCode', serverOptions, clientOptions);
    skipOwnCommands(client, this.ownCommands);
    client.onDidChangeState(({ newState }) => {
      if (newState === State.Running) {
        const child = client.serverProcess;
        this.processExit = new Promise((resolve) => {
          if (!child) resolve(undefined);
          else child.once('exit', (code, signal) => resolve(describeExit(code, signal)));
        });
        this.setState('running');
        this.readyEmitter.fire(client);
      }
    });
    return client;
  }

  private async onClosed(): Promise<{ action: CloseAction; handled: boolean }> {
    if (this.stopping) return { action: CloseAction.DoNotRestart, handled: true };
    if (this.firstStart) {
      // Died during the first start: startOnce reports it when client.start() rejects.
      return { action: CloseAction.DoNotRestart, handled: true };
    }
    // A crash while running, or while an automatic restart was starting: both use the budget.
    // The pipe closes before the process is reaped: give the exit status a moment to arrive.
    const exit = await Promise.race([this.processExit, delay(1000)]);
    const problem = diagnoseServerExit(this.stderrTail.text, exit);
    if (this.budget.tryRestart(Date.now())) {
      this.logger.warn(
        `${problem.reason} Restarting (${this.budget.used} of ${this.budget.maxRestarts} restarts).`,
      );
      this.setState('starting');
      return { action: CloseAction.Restart, handled: true };
    }
    const final: StartProblem = {
      reason: `${problem.reason} It crashed ${this.budget.maxRestarts + 1} times in a few minutes, so it was not restarted again.`,
      fixes: problem.fixes.includes('restart') ? problem.fixes : [...problem.fixes, 'restart'],
    };
    const client = this.client;
    this.client = undefined;
    // After this handler has returned: the client is stopped by then, and disposing it
    // does not try to stop a dead connection again.
    if (client) setTimeout(() => void this.disposeClient(client), 0);
    this.fail(final);
    return { action: CloseAction.DoNotRestart, handled: true };
  }

  private async stopClient(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) await this.disposeClient(client);
    this.setState('stopped');
  }

  private async disposeClient(client: LanguageClient): Promise<void> {
    this.stopping = true;
    try {
      if (client.isRunning()) await client.stop(5000);
      await client.dispose(2000);
    } catch (error) {
      this.logger.debug(`Stopping the client: ${String(error)}`);
    } finally {
      this.stopping = false;
    }
  }

  private fail(problem: StartProblem): void {
    this.problem = problem;
    this.logger.error(problem.reason);
    this.setState('failed', problem);
    this.problemEmitter.fire(problem);
  }

  private setState(state: ConnectionState, problem?: StartProblem): void {
    this.state = state;
    this.stateEmitter.fire({ state, problem });
  }
}

/**
 * vscode-languageclient registers a VS Code command for every command the server lists. For
 * the ones the extension wraps in UI (e.g. `evoselfcode.selfEvolve`, run by the server's code
 * action) that would clash, so they are left out of the client's registration.
 */
function skipOwnCommands(client: LanguageClient, own: ReadonlySet<string>): void {
  const feature = client.getFeature(ExecuteCommandRequest.method);
  const register = feature.register.bind(feature);
  feature.register = (data) => {
    const commands = (data.registerOptions.commands ?? []).filter((command) => !own.has(command));
    register({ ...data, registerOptions: { ...data.registerOptions, commands } });
  };
}

function delay(ms: number): Promise<undefined> {
  return new Promise((resolve) => setTimeout(() => resolve(undefined), ms));
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}

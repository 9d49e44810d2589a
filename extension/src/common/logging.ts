/**
 * The "EvoSelfCode" output channel. Every line goes through `redactSecrets`, so API keys never
 * reach the log, including the language client's own messages and protocol traces.
 */
import * as vscode from 'vscode';
import { redactSecrets } from './redact';
import { classifyStderrLine } from './serverLog';

export const OUTPUT_CHANNEL_NAME = 'EvoSelfCode';

export class Logger implements vscode.Disposable {
  readonly channel: vscode.LogOutputChannel;
  /** A channel for the language client: the same output, redacted. */
  readonly clientChannel: vscode.LogOutputChannel;
  private secrets: string[] = [];

  constructor() {
    this.channel = vscode.window.createOutputChannel(OUTPUT_CHANNEL_NAME, { log: true });
    this.clientChannel = new RedactingChannel(this.channel, (text) => this.redact(text));
  }

  /** The API keys currently known; they are replaced by `***` wherever they appear. */
  setSecrets(secrets: Array<string | undefined>): void {
    this.secrets = secrets.filter((s): s is string => !!s);
  }

  redact(text: string): string {
    return redactSecrets(text, this.secrets);
  }

  trace(message: string): void {
    this.channel.trace(this.redact(message));
  }
  debug(message: string): void {
    this.channel.debug(this.redact(message));
  }
  info(message: string): void {
    this.channel.info(this.redact(message));
  }
  warn(message: string): void {
    this.channel.warn(this.redact(message));
  }
  error(message: string | Error): void {
    this.channel.error(
      this.redact(message instanceof Error ? (message.stack ?? message.message) : message),
    );
  }

  /** A line the server wrote to stderr; `connected`: it also logs through the connection. */
  serverLine(line: string, connected: boolean): void {
    const { level, forwarded } = classifyStderrLine(line);
    this[forwarded && connected ? 'debug' : level](line);
  }

  show(): void {
    this.channel.show(true);
  }

  dispose(): void {
    this.channel.dispose();
  }
}

function format(message: string | Error, args: unknown[]): string {
  const head = message instanceof Error ? (message.stack ?? message.message) : message;
  if (args.length === 0) return head;
  const rest = args.map((a) => (typeof a === 'string' ? a : safeJson(a)));
  return [head, ...rest].join(' ');
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/** A LogOutputChannel that redacts before writing to another one; disposing it is a no-op. */
class RedactingChannel implements vscode.LogOutputChannel {
  constructor(
    private readonly target: vscode.LogOutputChannel,
    private readonly redact: (text: string) => string,
  ) {}

  get name(): string {
    return this.target.name;
  }
  get logLevel(): vscode.LogLevel {
    return this.target.logLevel;
  }
  get onDidChangeLogLevel(): vscode.Event<vscode.LogLevel> {
    return this.target.onDidChangeLogLevel;
  }
  trace(message: string, ...args: unknown[]): void {
    this.target.trace(this.redact(format(message, args)));
  }
  debug(message: string, ...args: unknown[]): void {
    this.target.debug(this.redact(format(message, args)));
  }
  info(message: string, ...args: unknown[]): void {
    this.target.info(this.redact(format(message, args)));
  }
  warn(message: string, ...args: unknown[]): void {
    this.target.warn(this.redact(format(message, args)));
  }
  error(error: string | Error, ...args: unknown[]): void {
    this.target.error(this.redact(format(error, args)));
  }
  append(value: string): void {
    this.target.append(this.redact(value));
  }
  appendLine(value: string): void {
    this.target.appendLine(this.redact(value));
  }
  replace(value: string): void {
    this.target.replace(this.redact(value));
  }
  clear(): void {
    this.target.clear();
  }
  show(columnOrPreserveFocus?: vscode.ViewColumn | boolean, preserveFocus?: boolean): void {
    if (typeof columnOrPreserveFocus === 'boolean') this.target.show(columnOrPreserveFocus);
    else this.target.show(columnOrPreserveFocus, preserveFocus);
  }
  hide(): void {
    this.target.hide();
  }
  dispose(): void {
    // The Logger owns the real channel.
  }
}

/**
 * How a line the server wrote to stderr goes to the output channel. The server logs through
 * `window/logMessage` once connected and copies warnings and errors to stderr (for what
 * happens before the connection): while the client runs, those copies would show twice.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

// Python's logging format on the server's stderr: "2026-11-21 10:23:34,818 WARNING name: msg".
const PY_LOG_LINE =
  /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) (\S+): /;
const FORWARDED_LOGGERS = /^(server|models|evolution|evaluation)(\.|$)/;
const PY_LEVELS: Record<string, LogLevel> = {
  DEBUG: 'debug',
  INFO: 'info',
  WARNING: 'warn',
  ERROR: 'error',
  CRITICAL: 'error',
};

export interface StderrLine {
  level: LogLevel;
  /** Also sent as window/logMessage while connected: shown at debug level only then. */
  forwarded: boolean;
}

/** The level of a stderr line, and whether it duplicates a `window/logMessage`. */
export function classifyStderrLine(line: string): StderrLine {
  const logged = PY_LOG_LINE.exec(line);
  if (logged) {
    return { level: PY_LEVELS[logged[1]], forwarded: FORWARDED_LOGGERS.test(logged[2]) };
  }
  // A traceback or an uncaught exception's last line ("ModuleNotFoundError: ...").
  if (/^Traceback \(most recent call last\)|^\w+(Error|Exception|Interrupt)\b/.test(line)) {
    return { level: 'error', forwarded: false };
  }
  return { level: 'info', forwarded: false };
}

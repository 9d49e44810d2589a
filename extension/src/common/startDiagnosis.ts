/**
 * Why the server cannot start, in words a user can act on, and which fixes to offer.
 * Pure: the inputs are the preflight report, a spawn error or the server's last stderr lines.
 */
import { describeSource, InterpreterChoice } from './interpreter';
import { Requirement } from './pyproject';

export const MIN_PYTHON: readonly [number, number] = [3, 10];

export type Fix = 'installDependencies' | 'selectInterpreter' | 'showLogs' | 'restart';

export interface StartProblem {
  reason: string;
  fixes: Fix[];
  /** Requirement specs to install when `installDependencies` is offered. */
  missing?: string[];
}

/**
 * Run by the chosen interpreter with the server's environment before the server starts:
 * prints the interpreter's version, which required distributions are missing, where the
 * `server` package would be imported from, and whether pip may install into it (PEP 668).
 */
export const PREFLIGHT_SCRIPT = `
import json, os, sys, sysconfig
try:
    import importlib.metadata as md, importlib.util as iu
except ImportError:
    print(json.dumps({"version": list(sys.version_info[:3]), "executable": sys.executable}))
    sys.exit(0)
missing = []
for name in json.loads(sys.argv[1]):
    try:
        md.version(name)
    except md.PackageNotFoundError:
        missing.append(name)
spec = iu.find_spec("server")
marker = os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")
print(json.dumps({
    "version": list(sys.version_info[:3]),
    "executable": sys.executable,
    "missing": missing,
    "serverOrigin": spec.origin if spec else None,
    "externallyManaged": sys.prefix == sys.base_prefix and os.path.exists(marker),
}))
`;

export interface PreflightReport {
  version: [number, number, number];
  executable: string;
  missing?: string[];
  serverOrigin?: string | null;
  externallyManaged?: boolean;
}

/** The preflight's stdout (its last line is the JSON report). */
export function parsePreflightOutput(stdout: string): PreflightReport {
  const lastLine = stdout.trim().split('\n').pop() ?? '';
  const report = JSON.parse(lastLine) as PreflightReport;
  if (!Array.isArray(report.version) || typeof report.executable !== 'string') {
    throw new Error(`unexpected preflight output: ${lastLine.slice(0, 200)}`);
  }
  return report;
}

/** Problems found by the preflight, or undefined when the server can start. */
export function diagnosePreflight(
  report: PreflightReport,
  context: { interpreter: InterpreterChoice; requirements: Requirement[]; pythonRoot: string },
): StartProblem | undefined {
  const where = `${context.interpreter.command} (${describeSource(context.interpreter.source)})`;
  const [major, minor] = report.version;
  if (major < MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor < MIN_PYTHON[1])) {
    return {
      reason: `Python ${report.version.join('.')} at ${where} is too old: the server needs Python ${MIN_PYTHON.join('.')} or newer.`,
      fixes: ['selectInterpreter', 'showLogs'],
    };
  }
  const missingNames = new Set(report.missing ?? []);
  if (missingNames.size > 0) {
    const missing = context.requirements.filter((r) => missingNames.has(r.name));
    const names = [...missingNames].join(', ');
    if (report.externallyManaged) {
      return {
        reason: `${where} lacks the packages ${names}, and it is a system Python that pip may not change (PEP 668). Create a virtual environment and select it.`,
        fixes: ['selectInterpreter', 'showLogs'],
      };
    }
    return {
      reason: `${where} lacks the Python packages the server needs: ${names}.`,
      fixes: ['installDependencies', 'selectInterpreter', 'showLogs'],
      missing: missing.map((r) => r.spec),
    };
  }
  if (report.serverOrigin && !isInside(report.serverOrigin, context.pythonRoot)) {
    return {
      reason: `${where} imports another package named "server" (${report.serverOrigin}) instead of the bundled one in ${context.pythonRoot}.`,
      fixes: ['selectInterpreter', 'showLogs'],
    };
  }
  if (report.serverOrigin === null) {
    return {
      reason: `The extension's Python packages are missing from ${context.pythonRoot}; reinstall the extension.`,
      fixes: ['showLogs'],
    };
  }
  return undefined;
}

/** The interpreter could not be run at all. */
export function diagnoseSpawnError(
  error: NodeJS.ErrnoException,
  interpreter: InterpreterChoice,
): StartProblem {
  const where = `${interpreter.command} (${describeSource(interpreter.source)})`;
  if (error.code === 'ENOENT') {
    return { reason: `Python interpreter not found: ${where}.`, fixes: ['selectInterpreter'] };
  }
  if (error.code === 'EACCES') {
    return {
      reason: `Python interpreter is not executable: ${where}.`,
      fixes: ['selectInterpreter'],
    };
  }
  return {
    reason: `Could not run ${where}: ${error.message}`,
    fixes: ['selectInterpreter', 'showLogs'],
  };
}

/** How a process ended, for messages: "exit code 1", "signal SIGKILL". */
export function describeExit(
  code: number | null | undefined,
  signal: string | null | undefined,
): string | undefined {
  if (signal) return `signal ${signal}`;
  if (code !== null && code !== undefined) return `exit code ${code}`;
  return undefined;
}

/** The server process started and then stopped; its last stderr lines say why. */
export function diagnoseServerExit(stderrTail: string[], exit?: string): StartProblem {
  const text = stderrTail.join('\n');
  const missingModule = /ModuleNotFoundError: No module named '([^']+)'/.exec(text);
  if (missingModule) {
    return {
      reason: `The server could not import the Python module "${missingModule[1]}".`,
      fixes: ['installDependencies', 'selectInterpreter', 'showLogs'],
    };
  }
  const lastError = [...stderrTail]
    .reverse()
    .find((line) => /\w*(Error|Exception)\b.*:/.test(line));
  const lastLine = [...stderrTail].reverse().find((line) => line.trim());
  const detail = (lastError ?? lastLine)?.trim();
  const how = exit ? ` (${exit})` : '';
  return {
    reason: detail
      ? `The server stopped${how}: ${detail}`
      : `The server stopped${how} without saying why.`,
    fixes: ['showLogs', 'restart'],
  };
}

function isInside(file: string, folder: string): boolean {
  const normalize = (p: string) => p.replace(/\\/g, '/').replace(/\/+$/, '');
  return normalize(file).startsWith(`${normalize(folder)}/`);
}

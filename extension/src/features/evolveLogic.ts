/** The pure decisions of the self-evolve flow: what may be sent, what came back, what it means. */
import { AcceptResult, EvolveError, EvolveResult, GateResult } from '../common/protocol';

/** More than this is not "a function": the user most likely selected the whole file. */
export const MAX_SELECTION_LINES = 400;
export const MAX_SELECTION_CHARS = 40_000;

export interface TargetFacts {
  languageId: string;
  fileName: string;
  selectionLines: number;
  selectionChars: number;
}

/** Why the target cannot be sent, or undefined when it can. */
export function checkTarget(target: TargetFacts): string | undefined {
  if (target.languageId !== 'python') {
    return `Self-evolution works on Python functions; ${baseName(target.fileName)} is a ${target.languageId} file.`;
  }
  if (target.selectionLines > MAX_SELECTION_LINES || target.selectionChars > MAX_SELECTION_CHARS) {
    return (
      `The selection is too large (${target.selectionLines} lines, ${target.selectionChars} characters; ` +
      `at most ${MAX_SELECTION_LINES} lines or ${MAX_SELECTION_CHARS} characters). ` +
      'Select one function, or put the cursor inside it.'
    );
  }
  return undefined;
}

/**
 * Where the proposal's original function is now (text offset and length): at
 * `expectedOffset` if it is still there, else its only occurrence (lines were added or removed
 * above it); undefined when it was edited, removed or appears more than once, so that nothing
 * is applied silently. CRLF documents match an LF original.
 */
export function locateOriginal(
  text: string,
  original: string,
  expectedOffset: number,
): { offset: number; length: number } | undefined {
  // Nothing to find for a new function (inserted below its instruction): the server checks.
  if (!original) return { offset: expectedOffset, length: 0 };
  const variants = text.includes('\r\n')
    ? [original.replace(/\r?\n/g, '\r\n'), original]
    : [original];
  for (const needle of variants) {
    if (text.startsWith(needle, expectedOffset)) {
      return { offset: expectedOffset, length: needle.length };
    }
    const first = text.indexOf(needle);
    if (first >= 0 && text.indexOf(needle, first + 1) < 0) {
      return { offset: first, length: needle.length };
    }
  }
  return undefined;
}

export function gateName(gate: GateResult, index: number): string {
  return gate.name ?? gate.gate ?? `gate ${index + 1}`;
}

export function gatePassed(gate: GateResult): boolean {
  return gate.passed ?? gate.ok ?? false;
}

/** One line per gate, e.g. `✓ syntax` or `✗ execution: 2 of 5 tests failed`. */
export function gateLines(result: EvolveResult): string[] {
  return (result.gates ?? []).map((gate, i) => {
    const why = gate.reason ?? gate.detail;
    return `${gatePassed(gate) ? '✓' : '✗'} ${gateName(gate, i)}${why ? `: ${why}` : ''}`;
  });
}

/** The headline for a result the gates turned down: which gate and why. */
export function describeRejection(result: EvolveResult): string {
  const gates = result.gates ?? [];
  const index = result.rejectedBy
    ? gates.findIndex((g, i) => gateName(g, i) === result.rejectedBy)
    : gates.findIndex((g) => !gatePassed(g));
  const gate = index >= 0 ? gates[index] : undefined;
  const name = result.rejectedBy ?? (gate ? gateName(gate, index) : undefined);
  // The gate's own reason; the result's reason repeats the gate's name in front of it.
  const reason = gate?.reason ?? gate?.detail ?? result.reason;
  return `Self-evolution rejected by ${name ? `the ${name} gate` : 'a gate'}${reason ? `: ${reason}` : '.'}`;
}

/** The verifier's word on an accepted proposal, for the Accept / Reject prompt. */
export function describeProposal(result: EvolveResult): string {
  const verdict = result.verdict ? `verifier: ${result.verdict}` : 'verified';
  const confidence =
    typeof result.confidence === 'number' ? ` (confidence ${result.confidence.toFixed(2)})` : '';
  const gates = (result.gates ?? []).length;
  return `Proposed change passed ${gates} gate${gates === 1 ? '' : 's'}, ${verdict}${confidence}. Apply it?`;
}

/** What became of an accepted proposal's pair, for the closing message. */
export function describeAccepted(answer: AcceptResult): string {
  if (answer.recorded) {
    const id = answer.recordId ? ` ${answer.recordId}` : '';
    const flagged = answer.flagged
      ? ' (it overlaps a benchmark, so it is kept out of training)'
      : '';
    return `recorded as training pair${id}${flagged}`;
  }
  if (answer.duplicate) {
    const id = answer.recordId ? ` (${answer.recordId})` : '';
    return `the same code is already in the training data${id}, so nothing new was recorded`;
  }
  return 'not recorded';
}

export type FailureKind = 'auth' | 'unreachable' | 'timeout' | 'unsupported' | 'other';

/** Sorts a server error message into what the user can do about it. */
export function classifyFailure(message: string): FailureKind {
  if (/api[ _-]?key|unauthori[sz]ed|authenticat|\b401\b|\b403\b|forbidden/i.test(message)) {
    return 'auth';
  }
  if (
    /unreachable|connect(ion)?\s*(error|refused|failed)|refused|could not connect|name or service|no route|circuit/i.test(
      message,
    )
  ) {
    return 'unreachable';
  }
  if (/timed?\s*out|timeout/i.test(message)) return 'timeout';
  if (/unknown command|not supported|method not found|unhandled method/i.test(message)) {
    return 'unsupported';
  }
  return 'other';
}

/** The error kinds of evolution.clients (ARCHITECTURE.md), sorted the same way. */
const ERROR_KINDS: Record<string, FailureKind> = {
  AuthenticationError: 'auth',
  EndpointUnreachable: 'unreachable',
  CircuitOpen: 'unreachable',
  RequestTimeout: 'timeout',
};

/** A result's `error` (status "error"): by its exception class, else by its message. */
export function classifyError(error: EvolveError): FailureKind {
  return ERROR_KINDS[error.kind] ?? classifyFailure(`${error.kind}: ${error.message}`);
}

/**
 * A message that says what happened and what to do.
 * @param role "generator" or "verifier" when known; `endpoint` its base URL.
 */
export function failureMessage(
  kind: FailureKind,
  detail: string,
  endpoint?: string,
  role?: string,
): string {
  const who =
    role === 'generator' || role === 'verifier'
      ? `The ${role} endpoint`
      : 'The generator or verifier endpoint';
  const at = endpoint ? ` at ${endpoint}` : '';
  const settings =
    role === 'generator' || role === 'verifier'
      ? `evoselfcode.${role}.baseUrl`
      : 'evoselfcode.generator.baseUrl / verifier.baseUrl';
  switch (kind) {
    case 'auth':
      return `${who}${at} refused the request: it needs an API key. Set it with "EvoSelfCode: Set API key". (${detail})`;
    case 'unreachable':
      return `${who}${at} cannot be reached. Check that it is running and the ${settings} setting. (${detail})`;
    case 'timeout':
      return `${who}${at} did not answer in time; raise evoselfcode.evolution.requestTimeoutSeconds or try again. (${detail})`;
    case 'unsupported':
      return `The running server does not offer self-evolution yet. (${detail})`;
    case 'other':
      return `Self-evolution failed: ${detail}`;
  }
}

function baseName(fileName: string): string {
  return fileName.split(/[\\/]/).pop() ?? fileName;
}

/**
 * The name of the function that encloses `line`: the line's own `def`, else the nearest `def`
 * above it that is indented less than every line in between; undefined outside any function.
 */
export function enclosingFunctionName(lines: string[], line: number): string | undefined {
  const indentOf = (text: string) => text.length - text.trimStart().length;
  const defName = (text: string) => /^\s*(?:async\s+)?def\s+([A-Za-z_]\w*)/.exec(text)?.[1];
  const start = Math.min(line, lines.length - 1);
  if (start < 0) return undefined;
  const own = defName(lines[start]);
  if (own) return own;
  let limit = lines[start].trim() ? indentOf(lines[start]) : Number.POSITIVE_INFINITY;
  for (let i = start - 1; i >= 0; i--) {
    const text = lines[i];
    if (!text.trim()) continue;
    const indent = indentOf(text);
    const name = defName(text);
    if (name && indent < limit) return name;
    limit = Math.min(limit, indent);
  }
  return undefined;
}

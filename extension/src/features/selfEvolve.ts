/**
 * "Self-evolve this function": a cancellable progress notification while the server runs the
 * generator, the gates and the verifier; the result as a diff with Accept / Reject; Accept
 * records the pair through the server and applies the edit; Reject records nothing. A result
 * for a function that changed meanwhile is never applied silently.
 */
import * as vscode from 'vscode';
import { Cancelled, CommandUnsupported, ServerUnavailable } from '../common/errors';
import { Logger } from '../common/logging';
import { AcceptResult, CodeTarget, EvolveResult, Range, ServerCommands } from '../common/protocol';
import { ServerApi } from '../common/serverApi';
import { ServerManager } from '../common/server';
import { setting } from '../common/settings';
import { errorMessage, showCommandError } from '../common/ui';
import {
  checkTarget,
  classifyError,
  classifyFailure,
  describeAccepted,
  describeProposal,
  describeRejection,
  enclosingFunctionName,
  failureMessage,
  FailureKind,
  gateLines,
  locateOriginal,
} from './evolveLogic';
import { Proposal, ProposalStore } from './proposals';
import { withRequestProgress } from './requestProgress';
import { ServerProgressUi } from './serverProgress';

export interface SelfEvolveDeps {
  api: ServerApi;
  server: ServerManager;
  proposals: ProposalStore;
  progressUi: ServerProgressUi;
  logger: Logger;
}

interface ResolvedTarget {
  document: vscode.TextDocument;
  params: CodeTarget;
  name: string;
}

export function registerSelfEvolve(deps: SelfEvolveDeps): vscode.Disposable[] {
  const uriOf = (arg: unknown) =>
    arg instanceof vscode.Uri ? arg : vscode.window.activeTextEditor?.document.uri;
  return [
    vscode.commands.registerCommand('evoselfcode.selfEvolve', (arg?: CodeTarget) =>
      runSelfEvolve(deps, arg),
    ),
    vscode.commands.registerCommand('evoselfcode.acceptProposal', (arg?: unknown) =>
      decideFromEditor(deps, uriOf(arg), 'accept'),
    ),
    vscode.commands.registerCommand('evoselfcode.rejectProposal', (arg?: unknown) =>
      decideFromEditor(deps, uriOf(arg), 'reject'),
    ),
  ];
}

export async function runSelfEvolve(deps: SelfEvolveDeps, arg?: CodeTarget): Promise<void> {
  const target = await resolveTarget(arg);
  if (!target) return;
  let result: EvolveResult;
  try {
    result = await withRequestProgress(
      deps.progressUi,
      `EvoSelfCode: self-evolving ${target.name}`,
      'generator, gates and verifier…',
      (options) =>
        deps.api.execute<EvolveResult>(ServerCommands.selfEvolve, target.params, options),
    );
  } catch (error) {
    await reportFailure(deps, error);
    return;
  }
  await presentResult(deps, result, target.document.uri, result.functionName ?? target.name);
}

/** True for a self-evolve result (the instruction command returns one for "self-evolve:"). */
export function isEvolveResult(value: unknown): value is EvolveResult {
  const v = value as Partial<EvolveResult> | null;
  return (
    !!v && typeof v.id === 'string' && typeof v.ok === 'boolean' && typeof v.original === 'string'
  );
}

/** The gates' verdict: the diff with Accept / Reject, or which gate said no and why. */
export async function presentResult(
  deps: SelfEvolveDeps,
  result: EvolveResult,
  documentUri: vscode.Uri,
  name: string,
) {
  deps.logger.info(
    `Self-evolve ${result.id} for ${name}: ${result.status ?? (result.ok ? 'accepted' : 'rejected')}`,
  );
  for (const line of gateLines(result)) deps.logger.info(`  ${line}`);
  if (
    result.error ||
    result.status === 'error' ||
    !result.range ||
    typeof result.original !== 'string'
  ) {
    const error = result.error ?? {
      role: '',
      kind: 'Error',
      message: result.reason ?? 'no function was found there',
    };
    await showFailure(deps, classifyError(error), error.message, error.role);
    return;
  }
  if (!result.ok) {
    await showRejection(deps, result, documentUri);
    return;
  }
  const proposal = deps.proposals.add(result, documentUri);
  await deps.proposals.showDiff(proposal, `Self-evolve: ${name} (original ↔ proposed)`);
  const choice = await vscode.window.showInformationMessage(
    describeProposal(result),
    'Accept',
    'Reject',
  );
  // Dismissed: the proposal stays open; the diff editor's title has Accept and Reject.
  if (choice === 'Accept') await accept(deps, result.id);
  if (choice === 'Reject') await reject(deps, result.id);
}

async function resolveTarget(arg: CodeTarget | undefined): Promise<ResolvedTarget | undefined> {
  let document: vscode.TextDocument;
  let range: vscode.Range | undefined;
  let position: vscode.Position;
  if (arg?.uri) {
    document = await vscode.workspace.openTextDocument(vscode.Uri.parse(arg.uri));
    range = arg.range ? toVsRange(arg.range) : undefined;
    position =
      range?.start ?? new vscode.Position(arg.position?.line ?? 0, arg.position?.character ?? 0);
  } else {
    const editor = vscode.window.activeTextEditor;
    if (!editor) {
      vscode.window.showWarningMessage(
        'EvoSelfCode: open a Python file and put the cursor inside a function first.',
      );
      return undefined;
    }
    document = editor.document;
    range = editor.selection.isEmpty ? undefined : editor.selection;
    position = editor.selection.active;
  }
  const selected = range ? document.getText(range) : '';
  const problem = checkTarget({
    languageId: document.languageId,
    fileName: document.fileName,
    selectionLines: range ? range.end.line - range.start.line + 1 : 0,
    selectionChars: selected.length,
  });
  if (problem) {
    vscode.window.showWarningMessage(`EvoSelfCode: ${problem}`);
    return undefined;
  }
  const lines = document.getText().split(/\r?\n/);
  const name = enclosingFunctionName(lines, (range?.start ?? position).line) ?? 'the selection';
  const params: CodeTarget = { uri: document.uri.toString() };
  if (range) params.range = fromVsRange(range);
  else params.position = { line: position.line, character: position.character };
  if (arg?.instruction) params.instruction = arg.instruction;
  return { document, params, name };
}

async function reportFailure(deps: SelfEvolveDeps, error: unknown): Promise<void> {
  if (error instanceof Cancelled) {
    vscode.window.showInformationMessage(
      'EvoSelfCode: self-evolution cancelled; nothing was recorded.',
    );
    return;
  }
  if (error instanceof ServerUnavailable || error instanceof CommandUnsupported) {
    await showCommandError(deps.logger, 'Self-evolution', error);
    return;
  }
  const detail = errorMessage(error);
  await showFailure(deps, classifyFailure(detail), detail);
}

/** An endpoint, key or sandbox failure, with the action that helps. */
async function showFailure(
  deps: SelfEvolveDeps,
  kind: FailureKind,
  detail: string,
  role?: string,
): Promise<void> {
  const endpoint =
    role === 'verifier' ? setting('verifier.baseUrl', '') : setting('generator.baseUrl', '');
  const message = deps.logger.redact(failureMessage(kind, detail, endpoint, role));
  deps.logger.error(message);
  const actions =
    kind === 'auth'
      ? ['Set API key', 'Show logs']
      : kind === 'other'
        ? ['Show logs']
        : ['Open settings', 'Show logs'];
  const choice = await vscode.window.showErrorMessage(message, ...actions);
  if (choice === 'Set API key') await vscode.commands.executeCommand('evoselfcode.setApiKey');
  if (choice === 'Open settings') {
    await vscode.commands.executeCommand(
      'workbench.action.openSettings',
      `evoselfcode.${role ?? 'generator'}`,
    );
  }
  if (choice === 'Show logs') deps.logger.show();
}

async function showRejection(
  deps: SelfEvolveDeps,
  result: EvolveResult,
  documentUri: vscode.Uri,
): Promise<void> {
  const actions = ['Show details'];
  if (result.proposed) actions.push('Show proposal');
  const choice = await vscode.window.showWarningMessage(describeRejection(result), ...actions);
  if (choice === 'Show details') deps.logger.show();
  if (choice === 'Show proposal') {
    const proposal = deps.proposals.add(result, documentUri);
    await deps.proposals.showDiff(
      proposal,
      `Rejected by ${result.rejectedBy ?? 'a gate'}: original ↔ proposed`,
    );
  }
}

async function decideFromEditor(
  deps: SelfEvolveDeps,
  uri: vscode.Uri | undefined,
  decision: 'accept' | 'reject',
) {
  const proposal = deps.proposals.fromUri(uri);
  if (!proposal) {
    vscode.window.showWarningMessage('EvoSelfCode: this proposal is no longer pending.');
    return;
  }
  await (decision === 'accept'
    ? accept(deps, proposal.result.id)
    : reject(deps, proposal.result.id));
}

/**
 * Accept: the server checks the function is unchanged, applies the edit (workspace/applyEdit)
 * and records the pair, in that order, so nothing is recorded unless the edit went in.
 */
export async function accept(deps: SelfEvolveDeps, id: string): Promise<void> {
  const proposal = deps.proposals.get(id);
  if (!proposal) return;
  const { result } = proposal;
  if (proposal.rejected) {
    vscode.window.showWarningMessage(
      `EvoSelfCode: ${describeRejection(result)} It cannot be applied.`,
    );
    return;
  }
  // Checked here too, to offer Re-run / Discard before asking the server.
  const document = await vscode.workspace.openTextDocument(proposal.documentUri);
  const expected = document.offsetAt(toVsRange(result.range).start);
  if (locateOriginal(document.getText(), result.original, expected) === undefined) {
    await offerRerun(deps, proposal);
    return;
  }
  let answer: AcceptResult;
  try {
    answer = await deps.api.execute<AcceptResult>(ServerCommands.acceptEvolution, {
      id,
      applied: false,
    });
  } catch (error) {
    if (/changed .* since the proposal was made/.test(errorMessage(error))) {
      await offerRerun(deps, proposal);
    } else {
      await showCommandError(deps.logger, 'The proposal was not applied', error);
    }
    return;
  }
  await deps.proposals.closeDiff(id);
  deps.proposals.delete(id);
  const note = describeAccepted(answer);
  deps.logger.info(`Proposal ${id} applied; ${note}.`);
  vscode.window.showInformationMessage(`EvoSelfCode: applied; ${note}.`);
}

/** The function changed after the proposal was made: never applied silently. */
async function offerRerun(deps: SelfEvolveDeps, proposal: Proposal): Promise<void> {
  const id = proposal.result.id;
  const choice = await vscode.window.showWarningMessage(
    'EvoSelfCode: the function changed after the proposal was made, so the proposal was not applied.',
    'Re-run self-evolve',
    'Discard',
  );
  if (choice === 'Discard') await reject(deps, id);
  if (choice === 'Re-run self-evolve') {
    await reject(deps, id, { quiet: true });
    await runSelfEvolve(deps, {
      uri: proposal.documentUri.toString(),
      position: proposal.result.range.start,
    });
  }
}

/** Tells the server the proposal was rejected (it records nothing) and closes the diff. */
export async function reject(
  deps: SelfEvolveDeps,
  id: string,
  options: { quiet?: boolean } = {},
): Promise<void> {
  try {
    await deps.api.execute(ServerCommands.rejectEvolution, { id });
  } catch (error) {
    deps.logger.warn(`rejectEvolution ${id}: ${errorMessage(error)}`);
  }
  await deps.proposals.closeDiff(id);
  deps.proposals.delete(id);
  if (!options.quiet) {
    vscode.window.showInformationMessage('EvoSelfCode: proposal discarded; nothing was recorded.');
  }
}

function toVsRange(range: Range): vscode.Range {
  return new vscode.Range(
    range.start.line,
    range.start.character,
    range.end.line,
    range.end.character,
  );
}

function fromVsRange(range: vscode.Range): Range {
  return {
    start: { line: range.start.line, character: range.start.character },
    end: { line: range.end.line, character: range.end.character },
  };
}

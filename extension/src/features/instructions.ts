/**
 * "Generate code from this instruction" (the seed prototype's interactive generation): the
 * server's local instruct model turns a comment or selection into code; follow-ups continue
 * the same conversation until "Start a new instruction conversation".
 */
import * as vscode from 'vscode';
import { Cancelled } from '../common/errors';
import { CodeTarget, EvolveResult, GenerateResult, ServerCommands } from '../common/protocol';
import { showCommandError } from '../common/ui';
import { MAX_SELECTION_CHARS } from './evolveLogic';
import { withRequestProgress } from './requestProgress';
import { isEvolveResult, presentResult, SelfEvolveDeps } from './selfEvolve';

export function registerInstructionCommands(deps: SelfEvolveDeps): vscode.Disposable[] {
  const { api, logger } = deps;
  return [
    vscode.commands.registerCommand('evoselfcode.generateFromInstruction', (arg?: CodeTarget) =>
      generate(deps, arg),
    ),
    vscode.commands.registerCommand('evoselfcode.newConversation', async () => {
      try {
        await api.execute(ServerCommands.newConversation, {});
        vscode.window.setStatusBarMessage('EvoSelfCode: new instruction conversation', 3000);
      } catch (error) {
        await showCommandError(logger, 'New conversation', error);
      }
    }),
  ];
}

async function generate(deps: SelfEvolveDeps, arg?: CodeTarget): Promise<void> {
  const { api, server, logger } = deps;
  const editor = vscode.window.activeTextEditor;
  const params: CodeTarget | undefined = arg?.uri ? arg : editor ? targetOf(editor) : undefined;
  if (!params) {
    vscode.window.showWarningMessage(
      'EvoSelfCode: open a Python file and select an instruction or a comment first.',
    );
    return;
  }
  const document = await vscode.workspace.openTextDocument(vscode.Uri.parse(params.uri));
  if (document.languageId !== 'python') {
    vscode.window.showWarningMessage(
      `EvoSelfCode: code generation works in Python files; this is a ${document.languageId} file.`,
    );
    return;
  }
  if (params.range && document.getText(toRange(params.range)).length > MAX_SELECTION_CHARS) {
    vscode.window.showWarningMessage(
      `EvoSelfCode: the instruction is longer than ${MAX_SELECTION_CHARS} characters.`,
    );
    return;
  }
  try {
    const result = await withRequestProgress(
      deps.progressUi,
      'EvoSelfCode: generating code',
      'local instruct model…',
      (options) =>
        api.execute<GenerateResult | EvolveResult>(
          ServerCommands.generateFromInstruction,
          params,
          options,
        ),
    );
    if (isEvolveResult(result)) {
      // A "self-evolve:" / 自我演化 instruction went through the generator and the gates:
      // never applied without the user's Accept.
      await presentResult(deps, result, document.uri, result.functionName ?? 'the instruction');
      return;
    }
    const client = server.running;
    if (result.applied) {
      // The server applied it through workspace/applyEdit already.
    } else if (result.edit && client) {
      await vscode.workspace.applyEdit(
        await client.protocol2CodeConverter.asWorkspaceEdit(result.edit),
      );
    } else if (result.code) {
      const edit = new vscode.WorkspaceEdit();
      const at = params.range
        ? toRange(params.range).end
        : new vscode.Position(params.position?.line ?? 0, 0);
      edit.insert(document.uri, at, `\n${result.code}\n`);
      await vscode.workspace.applyEdit(edit);
    }
    if (result.modelNote) {
      vscode.window.setStatusBarMessage(`EvoSelfCode: ${result.modelNote}`, 10000);
    }
  } catch (error) {
    if (error instanceof Cancelled) return;
    await showCommandError(logger, 'Code generation', error);
  }
}

function targetOf(editor: vscode.TextEditor): CodeTarget {
  const { selection, document } = editor;
  const target: CodeTarget = { uri: document.uri.toString() };
  if (selection.isEmpty) {
    target.position = { line: selection.active.line, character: selection.active.character };
  } else {
    target.range = {
      start: { line: selection.start.line, character: selection.start.character },
      end: { line: selection.end.line, character: selection.end.character },
    };
  }
  return target;
}

function toRange(range: NonNullable<CodeTarget['range']>): vscode.Range {
  return new vscode.Range(
    range.start.line,
    range.start.character,
    range.end.line,
    range.end.character,
  );
}

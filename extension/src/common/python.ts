/**
 * Finds the interpreter for the server: `evoselfcode.python`, the checkout's `.venv`, the
 * Python extension's active interpreter, or `python3` (the order lives in interpreter.ts).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as vscode from 'vscode';
import { chooseInterpreter, expandPathSetting, InterpreterChoice, venvPython } from './interpreter';
import { pythonSetting } from './settings';

const PYTHON_EXTENSION_ID = 'ms-python.python';

/** The part of the Python extension's API used here (its `environments` namespace). */
interface PythonExtensionApi {
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { id: string; path: string };
    resolveEnvironment(
      environment: { id: string; path: string } | string,
    ): Promise<{ executable: { uri?: vscode.Uri } } | undefined>;
    onDidChangeActiveEnvironmentPath: vscode.Event<unknown>;
  };
}

export async function resolveInterpreter(
  checkoutRoot: string | undefined,
): Promise<InterpreterChoice> {
  const workspaceFolder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const setting = expandPathSetting(pythonSetting(), { home: os.homedir(), workspaceFolder });
  const checkout = checkoutRoot ? venvPython(checkoutRoot, process.platform) : undefined;
  return chooseInterpreter({
    setting,
    checkoutPython: checkout && fs.existsSync(checkout) ? checkout : undefined,
    // Asking the Python extension activates it: only do so when nothing earlier decided.
    pythonExtension:
      setting || (checkout && fs.existsSync(checkout))
        ? undefined
        : await pythonExtensionInterpreter(),
    platform: process.platform,
  });
}

async function pythonExtensionApi(): Promise<PythonExtensionApi | undefined> {
  const extension = vscode.extensions.getExtension<PythonExtensionApi>(PYTHON_EXTENSION_ID);
  if (!extension) return undefined;
  try {
    return extension.isActive ? extension.exports : await extension.activate();
  } catch {
    return undefined;
  }
}

async function pythonExtensionInterpreter(): Promise<string | undefined> {
  const environments = (await pythonExtensionApi())?.environments;
  if (!environments) return undefined;
  try {
    const resource = vscode.workspace.workspaceFolders?.[0]?.uri;
    const active = environments.getActiveEnvironmentPath(resource);
    const resolved = await environments.resolveEnvironment(active);
    return resolved?.executable.uri?.fsPath ?? active.path;
  } catch {
    return undefined;
  }
}

/** Calls `listener` when the Python extension's active interpreter changes (if installed). */
export async function onDidChangePythonInterpreter(
  listener: () => void,
): Promise<vscode.Disposable | undefined> {
  const extension = vscode.extensions.getExtension<PythonExtensionApi>(PYTHON_EXTENSION_ID);
  if (!extension?.isActive) return undefined;
  return extension.exports.environments?.onDidChangeActiveEnvironmentPath(() => listener());
}

/** The "Select interpreter" fix: the Python extension's picker if installed, else the setting. */
export async function selectInterpreter(): Promise<void> {
  if (vscode.extensions.getExtension(PYTHON_EXTENSION_ID) && !pythonSetting()) {
    await vscode.commands.executeCommand('python.setInterpreter');
    return;
  }
  await vscode.commands.executeCommand('workbench.action.openSettings', 'evoselfcode.python');
}

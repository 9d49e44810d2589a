/** Which Python runs the language server: the pure part of the choice (see python.ts). */
import * as path from 'node:path';

export type InterpreterSource = 'setting' | 'checkout' | 'pythonExtension' | 'default';

export interface InterpreterChoice {
  command: string;
  source: InterpreterSource;
}

export interface InterpreterInputs {
  /** `evoselfcode.python`, already expanded; empty when unset. */
  setting: string;
  /** The repository's `.venv` interpreter when the extension runs from a checkout. */
  checkoutPython?: string;
  /** The Python extension's active interpreter, if that extension is installed. */
  pythonExtension?: string;
  platform: NodeJS.Platform;
}

/** The order of issue 4 §1: setting, checkout `.venv`, Python extension, `python3`. */
export function chooseInterpreter(inputs: InterpreterInputs): InterpreterChoice {
  if (inputs.setting.trim()) return { command: inputs.setting.trim(), source: 'setting' };
  if (inputs.checkoutPython) return { command: inputs.checkoutPython, source: 'checkout' };
  if (inputs.pythonExtension) return { command: inputs.pythonExtension, source: 'pythonExtension' };
  return { command: inputs.platform === 'win32' ? 'python' : 'python3', source: 'default' };
}

/** Where a checkout's virtual environment keeps its interpreter. */
export function venvPython(root: string, platform: NodeJS.Platform): string {
  return platform === 'win32'
    ? path.join(root, '.venv', 'Scripts', 'python.exe')
    : path.join(root, '.venv', 'bin', 'python');
}

/**
 * Expands `~`, `${workspaceFolder}` and `${userHome}` in a path setting; a relative path is
 * taken relative to the workspace folder (a bare command such as `python3` stays as it is).
 */
export function expandPathSetting(
  value: string,
  context: { home: string; workspaceFolder?: string },
): string {
  let result = value.trim();
  if (!result) return '';
  result = result.replace(/\$\{userHome\}/g, context.home);
  if (context.workspaceFolder) {
    result = result.replace(/\$\{workspaceFolder\}/g, context.workspaceFolder);
  }
  if (result === '~' || result.startsWith('~/')) result = context.home + result.slice(1);
  const isBareCommand = !result.includes('/') && !result.includes('\\');
  if (!isBareCommand && !path.isAbsolute(result) && context.workspaceFolder) {
    result = path.join(context.workspaceFolder, result);
  }
  return result;
}

/** For messages: where the interpreter came from. */
export function describeSource(source: InterpreterSource): string {
  switch (source) {
    case 'setting':
      return 'the evoselfcode.python setting';
    case 'checkout':
      return "the repository's .venv";
    case 'pythonExtension':
      return "the Python extension's active interpreter";
    case 'default':
      return 'the default python3 on PATH';
  }
}

/** The `evoselfcode.*` settings (declared once, in package.json's contributes.configuration). */
import * as vscode from 'vscode';

export const SECTION = 'evoselfcode';

/**
 * The whole section as a plain nested object (`{completion: {enabled: true, ...}, ...}`):
 * what the server receives as `initializationOptions`, and what `workspace/configuration`
 * returns for the section "evoselfcode".
 */
export function serverSettings(): Record<string, unknown> {
  return JSON.parse(JSON.stringify(vscode.workspace.getConfiguration(SECTION))) as Record<
    string,
    unknown
  >;
}

export function pythonSetting(): string {
  return vscode.workspace.getConfiguration(SECTION).get<string>('python', '');
}

export function completionsEnabled(): boolean {
  return vscode.workspace.getConfiguration(SECTION).get<boolean>('completion.enabled', true);
}

/** Writes the setting where it is currently decided (workspace if set there, else user). */
export async function setCompletionsEnabled(enabled: boolean): Promise<void> {
  const config = vscode.workspace.getConfiguration(SECTION);
  const inspected = config.inspect<boolean>('completion.enabled');
  const target =
    inspected?.workspaceFolderValue !== undefined
      ? vscode.ConfigurationTarget.WorkspaceFolder
      : inspected?.workspaceValue !== undefined
        ? vscode.ConfigurationTarget.Workspace
        : vscode.ConfigurationTarget.Global;
  await config.update('completion.enabled', enabled, target);
}

export function setting<T>(key: string, fallback: T): T {
  return vscode.workspace.getConfiguration(SECTION).get<T>(key, fallback);
}

/**
 * Generator and verifier API keys: kept in VS Code's SecretStorage, handed to the server with
 * `evoselfcode.setApiKeys` after every (re)start, never written to settings or logs.
 */
import * as vscode from 'vscode';
import { Logger } from '../common/logging';
import { ApiKeys, ServerCommands } from '../common/protocol';
import { ServerApi } from '../common/serverApi';
import { setting } from '../common/settings';
import { showCommandError } from '../common/ui';

type Role = 'generator' | 'verifier';
const SECRET_KEYS: Record<Role, string> = {
  generator: 'evoselfcode.generatorApiKey',
  verifier: 'evoselfcode.verifierApiKey',
};

export class ApiKeyStore {
  private readonly changed = new vscode.EventEmitter<ApiKeys>();
  readonly onDidChange = this.changed.event;

  constructor(private readonly secrets: vscode.SecretStorage) {}

  async get(): Promise<ApiKeys> {
    return {
      generator: (await this.secrets.get(SECRET_KEYS.generator)) || undefined,
      verifier: (await this.secrets.get(SECRET_KEYS.verifier)) || undefined,
    };
  }

  async set(roles: Role[], key: string | undefined): Promise<void> {
    for (const role of roles) {
      if (key) await this.secrets.store(SECRET_KEYS[role], key);
      else await this.secrets.delete(SECRET_KEYS[role]);
    }
    this.changed.fire(await this.get());
  }

  dispose(): void {
    this.changed.dispose();
  }
}

/** Sends the stored keys to the server after a (re)start; true when it took them. */
export async function pushApiKeys(
  api: ServerApi,
  store: ApiKeyStore,
  logger: Logger,
): Promise<boolean> {
  const keys = await store.get();
  if (!keys.generator && !keys.verifier) return false;
  try {
    return await sendKeys(api, keys, logger);
  } catch (error) {
    logger.error(`Could not hand the API keys to the server: ${String(error)}`);
    return false;
  }
}

/**
 * `evoselfcode.setApiKeys` with both roles: a missing key is sent as null, so the server
 * forgets a removed one. False when the server does not take keys.
 */
async function sendKeys(api: ServerApi, keys: ApiKeys, logger: Logger): Promise<boolean> {
  if (!api.supports(ServerCommands.setApiKeys)) return false;
  await api.execute(ServerCommands.setApiKeys, {
    generator: keys.generator ?? null,
    verifier: keys.verifier ?? null,
  });
  logger.info(`API keys handed to the server (${describeKeys(keys)}).`);
  return true;
}

function describeKeys(keys: ApiKeys): string {
  const roles = (['generator', 'verifier'] as const).filter((role) => keys[role]);
  return roles.join(' and ') || 'none';
}

interface RoleItem extends vscode.QuickPickItem {
  roles: Role[];
  clear?: boolean;
}

/** "EvoSelfCode: Set API key". */
export function registerApiKeyCommand(
  api: ServerApi,
  store: ApiKeyStore,
  logger: Logger,
): vscode.Disposable {
  return vscode.commands.registerCommand('evoselfcode.setApiKey', async () => {
    const current = await store.get();
    const state = (role: Role) => (current[role] ? 'a key is stored' : 'no key stored');
    const items: RoleItem[] = [
      {
        label: 'Generator',
        description: setting('generator.baseUrl', ''),
        detail: state('generator'),
        roles: ['generator'],
      },
      {
        label: 'Verifier',
        description: setting('verifier.baseUrl', ''),
        detail: state('verifier'),
        roles: ['verifier'],
      },
      {
        label: 'Both',
        description: 'one key for the generator and the verifier',
        roles: ['generator', 'verifier'],
      },
      { label: 'Remove the stored keys', roles: ['generator', 'verifier'], clear: true },
    ];
    const picked = await vscode.window.showQuickPick(items, {
      title: 'EvoSelfCode: Set API key',
      placeHolder: 'Which endpoint is the key for?',
    });
    if (!picked) return;
    let key: string | undefined;
    if (!picked.clear) {
      key = await vscode.window.showInputBox({
        title: `API key for the ${picked.label.toLowerCase()}`,
        prompt: "Kept in VS Code's secret storage; never written to settings or logs.",
        password: true,
        ignoreFocusOut: true,
        validateInput: (value) =>
          !value.trim()
            ? 'Enter a key (or press Escape).'
            : /\s/.test(value.trim())
              ? 'A key has no spaces.'
              : undefined,
      });
      if (key === undefined) return;
      key = key.trim();
    }
    await store.set(picked.roles, key);
    try {
      await sendKeys(api, await store.get(), logger);
    } catch (error) {
      await showCommandError(logger, 'The key was stored but not handed to the server', error);
      return;
    }
    const what = picked.clear ? 'removed' : 'stored in the secret storage';
    vscode.window.showInformationMessage(
      `EvoSelfCode: API key ${what} (${picked.roles.join(' and ')}).`,
    );
  });
}

// @ts-check
/** code-server (VS Code in the browser) for the end-to-end test: install the .vsix, serve. */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startBackground, waitFor } from './processes.mjs';

/** User settings so nothing pops up over the editor (vscode-e2e.md, step 4). */
const QUIET_USER_SETTINGS = {
  'security.workspace.trust.enabled': false,
  'workbench.startupEditor': 'none',
  'chat.disableAIFeatures': true,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'telemetry.telemetryLevel': 'off',
  'workbench.tips.enabled': false,
  'extensions.ignoreRecommendations': true,
  'update.mode': 'none',
  'editor.inlineSuggest.enabled': true,
};

/**
 * @typedef {object} CodeServerPaths
 * @property {string} node24 Node 24 binary (code-server's engine)
 * @property {string} entry code-server's out/node/entry.js
 * @property {string} home the run's folder: user data, extensions, config
 */

/** @param {CodeServerPaths} paths */
function dirs(paths) {
  return {
    userData: join(paths.home, 'user-data'),
    extensions: join(paths.home, 'extensions'),
    config: join(paths.home, 'config.yaml'),
  };
}

/** @param {CodeServerPaths} paths */
function commonArgs(paths) {
  const d = dirs(paths);
  return [
    paths.entry,
    '--config',
    d.config,
    '--user-data-dir',
    d.userData,
    '--extensions-dir',
    d.extensions,
  ];
}

/** @param {CodeServerPaths} paths @param {Record<string, unknown>} [extraSettings] */
export function prepareProfile(paths, extraSettings = {}) {
  const d = dirs(paths);
  mkdirSync(join(d.userData, 'User'), { recursive: true });
  mkdirSync(d.extensions, { recursive: true });
  writeFileSync(d.config, 'auth: none\ncert: false\n');
  writeFileSync(
    join(d.userData, 'User', 'settings.json'),
    JSON.stringify({ ...QUIET_USER_SETTINGS, ...extraSettings }, null, 2),
  );
}

/**
 * `code-server --install-extension FILE.vsix`.
 * @param {CodeServerPaths} paths @param {string} vsix @param {(line: string) => void} log
 */
export function installVsix(paths, vsix, log) {
  return new Promise((resolve, reject) => {
    const child = spawn(paths.node24, [...commonArgs(paths), '--install-extension', vsix], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      log(output.trim());
      if (code === 0 && /successfully installed/i.test(output)) resolve(undefined);
      else reject(new Error(`installing ${vsix} failed (exit ${code}): ${output.trim()}`));
    });
  });
}

/**
 * Serves VS Code on a free loopback port and waits until it answers.
 * @param {CodeServerPaths} paths @param {string} workspace
 * @param {{log: (line: string) => void, env?: NodeJS.ProcessEnv}} options
 */
export async function startCodeServer(paths, workspace, { log, env }) {
  const port = await freePort();
  const args = [
    ...commonArgs(paths),
    '--auth',
    'none',
    '--bind-addr',
    `127.0.0.1:${port}`,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    workspace,
  ];
  const server = startBackground(paths.node24, args, {
    env: env ?? process.env,
    log,
    name: 'code-server',
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (server.child.exitCode !== null) {
        throw new Error(`code-server exited: ${server.output().slice(-5).join(' | ')}`);
      }
      const response = await fetch(`${url}/healthz`);
      return response.ok;
    },
    { timeoutMs: 90_000, what: 'code-server to answer /healthz' },
  );
  return { url, pid: server.child.pid ?? 0, stop: server.stop, output: server.output };
}

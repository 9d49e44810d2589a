// @ts-check
/**
 * Sets up one end-to-end run: the toolchain, a workspace, code-server with the
 * .vsix installed, headless Chromium on its page. Everything lives in a temporary run folder
 * (and the toolchain in the cache folder); `close()` stops every process it started.
 */
import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { installVsix, prepareProfile, startCodeServer } from './codeServer.mjs';
import { startBackground, waitFor } from './processes.mjs';
import { ensureE2eToolchain } from './setup.mjs';
import { Workbench } from './workbench.mjs';

export const REPO = resolve(
  import.meta.dirname ?? new URL('.', import.meta.url).pathname,
  '..',
  '..',
);
export const ARTIFACTS = join(REPO, 'test-results', 'e2e');
export const PYTHON = resolve(REPO, process.env.EVOSELFCODE_TEST_PYTHON ?? '.venv/bin/python');
/** EVOSELFCODE_E2E_KEEP=1 keeps the run's temporary folders (workspace, profile) to look at. */
export const KEEP = process.env.EVOSELFCODE_E2E_KEEP === '1';
const VSIX = join(REPO, 'evoselfcode.vsix');

mkdirSync(ARTIFACTS, { recursive: true });
const LOG_FILE = join(ARTIFACTS, 'e2e.log');
writeFileSync(LOG_FILE, '');

/** Detailed log to test-results/e2e/e2e.log; steps also to stderr. @param {string} line */
export function log(line) {
  appendFileSync(LOG_FILE, `${new Date().toISOString()} ${line}\n`);
}

/** @param {string} line */
export function say(line) {
  log(line);
  process.stderr.write(`[e2e] ${line}\n`);
}

/** The last lines of the log, for failure messages. */
export function logTail(lines = 40) {
  return readFileSync(LOG_FILE, 'utf8').trim().split('\n').slice(-lines).join('\n');
}

/**
 * The newest modification time under `path` (files that go into the .vsix).
 * @param {string} path
 * @returns {number}
 */
function newestMtime(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return (
    readdirSync(path)
      // Dot folders are not sources: models/evoselfcode-small/.work is a training run's state.
      .filter((name) => name !== '__pycache__' && name !== 'node_modules' && !name.startsWith('.'))
      .reduce(
        (/** @type {number} */ newest, name) => Math.max(newest, newestMtime(join(path, name))),
        0,
      )
  );
}

const VSIX_INPUTS = [
  'extension/src',
  'server',
  'models',
  'evolution',
  'evaluation',
  'package.json',
  'pyproject.toml',
];

/** Builds the .vsix when it is missing or older than its sources (make builds it first). */
export function ensureVsix() {
  const built = existsSync(VSIX) ? statSync(VSIX).mtimeMs : 0;
  const sources = Math.max(...VSIX_INPUTS.map((p) => newestMtime(join(REPO, p))));
  if (built > sources) return VSIX;
  say(
    `evoselfcode.vsix is ${built ? 'older than its sources' : 'missing'}: npm run bundle && npm run package`,
  );
  for (const script of ['bundle', 'package']) {
    const run = spawnSync('npm', ['run', '--silent', script], { cwd: REPO, encoding: 'utf8' });
    log(`${run.stdout}${run.stderr}`);
    if (run.status !== 0) throw new Error(`npm run ${script} failed:\n${run.stderr}`);
  }
  return VSIX;
}

/**
 * Starts `evoselfcode testserver` (the scripted OpenAI-compatible server) on a free port.
 * @param {{apiKey?: string}} [options] require this key (handed over through the environment)
 */
export async function startTestServer(options = {}) {
  const evoselfcode = join(REPO, '.venv', 'bin', 'evoselfcode');
  const args = ['testserver', '--port', '0', '--quiet'];
  const env = { ...process.env };
  if (options.apiKey) {
    env.EVOSELFCODE_E2E_TEST_KEY = options.apiKey;
    args.push('--api-key-env', 'EVOSELFCODE_E2E_TEST_KEY');
  }
  const server = startBackground(evoselfcode, args, { env, cwd: REPO, log, name: 'testserver' });
  const line = await waitFor(async () => server.output().find((l) => l.includes('listening on')), {
    timeoutMs: 30_000,
    what: 'the test server to listen',
  });
  const match = /listening on (\S+) \(control: (\S+)\)/.exec(line);
  if (!match) throw new Error(`unexpected test server banner: ${line}`);
  const [, baseUrl, controlUrl] = match;
  return {
    baseUrl,
    stop: server.stop,
    /** Replaces the scripted answers (the control API). @param {object} script */
    setScript: (script) => control(controlUrl, 'PUT', '/script', script),
    /** Delays every answer (the control API). @param {number} seconds */
    setLatency: (seconds) => control(controlUrl, 'POST', '/latency', { seconds }),
  };
}

/**
 * One request to the test server's control API.
 * @param {string} controlUrl @param {string} method @param {string} path @param {object} body
 */
async function control(controlUrl, method, path, body) {
  const response = await fetch(`${controlUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) {
    throw new Error(`the test server refused ${method} ${path}: ${await response.text()}`);
  }
}

/** The records of the training-data store under a data folder. @param {string} dataDir */
export function readStore(dataDir) {
  const file = join(dataDir, 'training', 'pairs.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line));
}

/** The extension's output channel as written so far (all sessions). @param {string} home */
export function extensionLog(home) {
  return extensionLogFiles(join(home, 'user-data', 'logs'))
    .map((file) => readFileSync(file, 'utf8'))
    .join('\n');
}

/** @param {string} logs */
function extensionLogFiles(logs) {
  if (!existsSync(logs)) return [];
  return readdirSync(logs).flatMap((session) =>
    readdirSync(join(logs, session))
      .filter((name) => name.startsWith('exthost'))
      .map((host) => join(logs, session, host, 'evoselfcode.evoselfcode', 'EvoSelfCode.log'))
      .filter((file) => existsSync(file)),
  );
}

/** Copies the extension's output channel log (server stderr included) into the artifacts. @param {string} logs */
function copyExtensionLogs(logs) {
  extensionLogFiles(logs).forEach((file, i) =>
    copyFileSync(file, join(ARTIFACTS, `EvoSelfCode-${i + 1}.log`)),
  );
}

/**
 * @param {string} file @param {Record<string, unknown>} settings
 */
export function writeWorkspaceSettings(file, settings) {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, JSON.stringify(settings, null, 2));
}

/**
 * The whole environment of one run.
 * @param {{workspaceSettings: Record<string, unknown>, files: Record<string, string>}} options
 */
export async function startVsCode(options) {
  const toolchain = await ensureE2eToolchain((line) => log(line));
  const vsix = ensureVsix();
  const home = mkdtempSync(join(tmpdir(), 'evoselfcode-e2e-'));
  const workspace = join(home, 'workspace');
  mkdirSync(workspace, { recursive: true });
  for (const [name, text] of Object.entries(options.files)) {
    writeFileSync(join(workspace, name), text);
  }
  const settingsFile = join(workspace, '.vscode', 'settings.json');
  writeWorkspaceSettings(settingsFile, options.workspaceSettings);

  const paths = { node24: toolchain.node24, entry: toolchain.codeServerEntry, home };
  prepareProfile(paths);
  await installVsix(paths, vsix, log);
  const codeServer = await startCodeServer(paths, workspace, { log });
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: toolchain.chromium,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on('console', (message) => log(`[browser ${message.type()}] ${message.text()}`));
  const workbench = new Workbench(page, ARTIFACTS);
  await workbench.open(codeServer.url, workspace);
  return {
    home,
    workspace,
    codeServerPid: codeServer.pid,
    settingsFile,
    workbench,
    page,
    close: async () => {
      await browser.close().catch(() => undefined);
      await codeServer.stop();
      copyExtensionLogs(join(home, 'user-data', 'logs'));
      if (!KEEP) rmSync(home, { recursive: true, force: true });
    },
  };
}

/** A virtual environment without pip or any package (to see the missing-packages fix). @param {string} dir */
export function makeBareVenv(dir) {
  const run = spawnSync(PYTHON, ['-m', 'venv', '--without-pip', dir], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`python -m venv failed: ${run.stderr}`);
  return join(dir, 'bin', 'python');
}

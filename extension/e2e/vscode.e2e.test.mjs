// @ts-check
/**
 * The extension in a real VS Code: code-server + headless Chromium, driven by Playwright as a
 * person would use it. Run with `npm run test:e2e` (inside `make test`). Screenshots and the
 * extension's log go to test-results/e2e/. The completion model is the one the .vsix ships
 * (models/evoselfcode-small, a small model trained by `evoselfcode pretrain`), found as a user
 * finds it: by the default of `evoselfcode.model`.
 *
 * Skipped only where a set-up step cannot be had here (no root for apt-get, no registry...),
 * and then loudly, naming the step; EVOSELFCODE_E2E_REQUIRED=1 turns such a skip into a
 * failure. The steps run in order on one VS Code, as one session of a user.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { API_KEY, BIG_PY, HELLO_PY, STATS_PY } from './fixtures.mjs';
import {
  ARTIFACTS,
  KEEP,
  logTail,
  makeBareVenv,
  PYTHON,
  REPO,
  say,
  startTestServer,
  startVsCode,
  writeWorkspaceSettings,
} from './harness.mjs';
import { serverCommands } from './serverProbe.mjs';
import { ensureE2eToolchain, SetupUnavailable } from './setup.mjs';
import * as editor from './steps/editorSteps.mjs';
import * as evolve from './steps/evolveSteps.mjs';
import * as runs from './steps/runSteps.mjs';

const STEP_TIMEOUT = 180_000;

/** Prints a skip so that nobody can miss it in CI output. @param {string} why */
function loudSkip(why) {
  const bar = '#'.repeat(78);
  process.stderr.write(`\n${bar}\n# END-TO-END TEST SKIPPED: ${why}\n${bar}\n\n`);
}

/** @type {string | undefined} */
let skipReason;
try {
  say('set-up: toolchain (apt packages, Node 24, code-server; cached after the first run)');
  await ensureE2eToolchain((line) => say(line));
} catch (error) {
  if (!(error instanceof SetupUnavailable) || process.env.EVOSELFCODE_E2E_REQUIRED === '1') {
    throw error;
  }
  skipReason = error.message;
  loudSkip(skipReason);
}

/** The server's commands: steps for commands it lacks are skipped, loudly. */
const offered = skipReason ? [] : await serverCommands(PYTHON, REPO);
const announced = new Set();

/** @param {string} command @returns {string | false} why the step is skipped */
function needs(command) {
  if (skipReason || offered.includes(command)) return false;
  const why = `the language server does not offer ${command} yet`;
  if (!announced.has(command)) loudSkip(why);
  announced.add(command);
  return why;
}

describe('EvoSelfCode in VS Code (code-server + Chromium)', { skip: skipReason }, () => {
  /** @type {Awaited<ReturnType<typeof startVsCode>>} */
  let vscode;
  /** @type {Awaited<ReturnType<typeof startTestServer>>} */
  let testServer;
  /** @type {import('./steps/context.mjs').StepContext} */
  let ctx;
  /** The run's temporary folder (data folder, bare venv). */
  let run = '';

  before(
    async () => {
      run = mkdtempSync(join(tmpdir(), 'evoselfcode-e2e-run-'));
      const dataDir = join(run, 'data');
      say('set-up: the OpenAI-compatible test server (it demands an API key)');
      testServer = await startTestServer({ apiKey: API_KEY });
      const settings = {
        // Wrong on purpose: the first step checks what a user sees when the server cannot start.
        'evoselfcode.python': join(run, 'no-such-python'),
        'evoselfcode.device': 'cpu',
        'evoselfcode.dtype': 'float32',
        'evoselfcode.dataDir': dataDir,
        'evoselfcode.generator.baseUrl': testServer.baseUrl,
        'evoselfcode.verifier.baseUrl': testServer.baseUrl,
        'evoselfcode.completion.debounceMs': 0,
        'evoselfcode.completion.maxTokens': 24,
      };
      say('set-up: code-server with the .vsix installed, Chromium on its page');
      vscode = await startVsCode({
        workspaceSettings: settings,
        files: {
          'hello.py': HELLO_PY,
          'notes.md': '# Notes\n\nNot Python.\n',
          'stats.py': STATS_PY,
          'big.py': BIG_PY,
        },
      });
      ctx = {
        workbench: vscode.workbench,
        page: vscode.page,
        home: vscode.home,
        workspace: vscode.workspace,
        codeServerPid: vscode.codeServerPid,
        testServer,
        dataDir,
        bareVenvPython: makeBareVenv(join(run, 'bare-venv')),
        settings,
        applySettings: (overrides = {}) =>
          writeWorkspaceSettings(vscode.settingsFile, { ...settings, ...overrides }),
      };
    },
    { timeout: 15 * 60_000 },
  );

  after(async () => {
    await vscode?.close();
    await testServer?.stop();
    if (run && !KEEP) rmSync(run, { recursive: true, force: true });
    say(`screenshots and logs: ${ARTIFACTS}`);
  });

  /**
   * One step of the session; on failure a screenshot and the log's tail go with the error.
   * @param {string} name @param {string | false} skip
   * @param {(ctx: import('./steps/context.mjs').StepContext) => Promise<void>} body
   */
  function step(name, skip, body) {
    it(name, { skip, timeout: STEP_TIMEOUT }, async () => {
      try {
        await body(ctx);
      } catch (error) {
        const shot = `failure-${name.replace(/\W+/g, '-').slice(0, 60)}`;
        await ctx.workbench.screenshot(shot).catch(() => undefined);
        throw new Error(`${error}\n--- log tail ---\n${logTail()}`);
      }
    });
  }

  step('a server that cannot start says why and offers the fix', false, editor.serverCannotStart);
  step(
    'completions off: no ghost text; on: the model writes the next function, Tab takes it, it parses',
    false,
    editor.ghostText,
  );
  step(
    'a non-Python file gets no completions and no self-evolve command',
    false,
    editor.nonPythonFile,
  );
  step('a huge selection is refused before anything is sent', false, editor.hugeSelection);
  step(
    'a crashing server is restarted at most 3 times, then the user is asked',
    false,
    editor.crashingServer,
  );

  const selfEvolve = needs('evoselfcode.selfEvolve');
  step(
    'self-evolve: the missing key, then the diff, Accept, the pair in the store',
    selfEvolve,
    evolve.acceptProposal,
  );
  step(
    'self-evolve: a function changed meanwhile is not applied, nothing recorded',
    selfEvolve,
    evolve.staleProposal,
  );
  step(
    'self-evolve: Cancel reaches the server and records nothing',
    selfEvolve,
    evolve.cancelSelfEvolve,
  );
  step(
    'self-evolve from the code action: which gate said no, and why',
    selfEvolve,
    evolve.rejectedByGate,
  );
  step(
    'self-evolve: an endpoint that is down gets a clear message',
    selfEvolve,
    evolve.endpointDown,
  );
  step(
    'generate from a self-evolve: instruction: a new function, proposed, then inserted',
    selfEvolve,
    evolve.instructionToNewFunction,
  );

  step(
    'evaluate on a few tasks: live progress, then pass@1 in the status bar',
    needs('evoselfcode.evaluate'),
    runs.evaluate,
  );
  step(
    'fine-tune on a store too small to train: it says why',
    needs('evoselfcode.fineTune'),
    runs.fineTuneTinyStore,
  );
});

// @ts-check
/** Steps without the remote models: start-up problems, ghost text, toggles, crashes. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HELLO_PY } from '../fixtures.mjs';
import { PYTHON, say } from '../harness.mjs';
import { MOD } from '../workbench.mjs';
import { descendantsMatching, waitFor } from '../processes.mjs';

/** @typedef {import('./context.mjs').StepContext} StepContext */

/** The shipped model's name in the status bar. */
const MODEL = /evoselfcode-small/;

/** A wrong interpreter, then one without packages, then the right one. @param {StepContext} ctx */
export async function serverCannotStart({ workbench, settings, applySettings, bareVenvPython }) {
  await workbench.openFile('hello.py');
  await workbench.notification(/Python interpreter not found: .*no-such-python/, 60_000);
  await workbench.screenshot('01-server-cannot-start');
  await workbench.statusBarItem(/EvoSelfCode/, 10_000);
  await workbench.clearNotifications();

  // A Python without the server's packages: the fix offered is to install them.
  applySettings({ 'evoselfcode.python': bareVenvPython });
  const toast = await workbench.notification(
    /lacks the Python packages the server needs: .*pygls/,
    60_000,
  );
  assert.equal(await toast.getByRole('button', { name: 'Install dependencies' }).count(), 1);
  await workbench.screenshot('01b-missing-packages');
  await workbench.clearNotifications();

  settings['evoselfcode.python'] = PYTHON;
  applySettings();
  say(`status bar after the fix: ${await workbench.statusBarItem(MODEL, 120_000)}`);
  await workbench.clearNotifications();
}

/**
 * Ghost text from the shipped model where a person writes code — the empty line below a
 * function, where the next one goes — taken with Tab: the file must still parse. Completions
 * are off first (no ghost text then, and the status bar says so), so the one suggestion checked
 * is the model's greedy answer asked for explicitly once they are on again, not whichever
 * request of the editor's won a race (how often such answers are right is
 * bench/model_quality.py's). Then the status bar's latency and menu, where the suggestion
 * taken is counted as accepted, reported by the editor.
 * @param {StepContext} ctx
 */
export async function ghostText({ workbench, page, workspace }) {
  // Ready (not "loading"); "(trained here)" says plainly what the model is.
  await workbench.statusBarItem(/evoselfcode-small \(trained here\)/, 120_000);
  await workbench.runCommand('EvoSelfCode: Toggle inline completions');
  await page.locator('.statusbar-item .codicon-circle-slash').waitFor({ timeout: 10_000 });
  await workbench.focusEditorEnd(); // the empty line after area()
  await keystrokeInPlace(page);
  await page.waitForTimeout(3000);
  assert.equal(await workbench.ghostCount(), 0, 'ghost text while completions are off');
  await workbench.runCommand('EvoSelfCode: Toggle inline completions');
  await page.locator('.statusbar-item .codicon-check').waitFor({ timeout: 10_000 });
  await workbench.focusEditorEnd(); // the palette took the focus
  // The icon follows the setting at once; the server hears of it a moment later and answers
  // a request before then with "disabled": ask again until the ghost text comes.
  const ghost = await waitFor(
    async () => {
      await keystrokeInPlace(page);
      return workbench.ghostText(5_000);
    },
    { timeoutMs: 60_000, what: 'ghost text once completions are on again' },
  );
  say(`ghost text: ${JSON.stringify(ghost)}`);
  assert.ok(ghost.trim().length > 0, 'the ghost text is empty');
  await workbench.screenshot('02-ghost-text');
  await page.keyboard.press('Tab');
  await waitFor(async () => (await workbench.ghostCount()) === 0, {
    timeoutMs: 10_000,
    what: 'the suggestion taken with Tab',
  });
  const file = join(workspace, 'hello.py');
  await page.keyboard.press(`${MOD}+S`);
  // On disk, something follows area(): the editor's save has landed.
  await waitFor(async () => /\S/.test(readFileSync(file, 'utf8').slice(HELLO_PY.length)), {
    timeoutMs: 10_000,
    what: 'hello.py saved with the suggestion taken',
  });
  const accepted = readFileSync(file, 'utf8');
  say(`hello.py with the suggestion taken:\n${accepted}`);
  const parse = spawnSync(PYTHON, ['-c', 'import ast, sys; ast.parse(sys.stdin.read())'], {
    input: accepted,
    encoding: 'utf8',
  });
  assert.equal(parse.status, 0, `hello.py no longer parses with the suggestion:\n${parse.stderr}`);
  // Undone, as a person trying a suggestion out would, and saved: hello.py is as it was for
  // the steps that follow.
  await page.keyboard.press('Escape');
  await waitFor(
    async () => {
      await page.keyboard.press(`${MOD}+Z`);
      await page.keyboard.press(`${MOD}+S`);
      await page.waitForTimeout(500);
      return readFileSync(file, 'utf8') === HELLO_PY;
    },
    { timeoutMs: 15_000, what: 'hello.py as it was once the suggestion is undone' },
  );

  // The status bar: p50 latency now, and a click shows the details and the actions.
  await workbench.statusBarItem(/evoselfcode-small \(trained here\) · p50 \d/, 30_000);
  await page.locator('.statusbar-item', { hasText: 'evoselfcode-small' }).first().click();
  await workbench.quickPickRow(/Inline completions: on/);
  await workbench.quickPickRow(/Small model trained by EvoSelfCode/);
  await workbench.quickPickRow(/Turn inline completions off/);
  // The suggestion taken with Tab is counted, and VS Code reported it (the item's command).
  await workbench.quickPickRow(/Suggestions: \d+ shown, [1-9]\d* accepted/);
  await workbench.quickPickRow(/Acceptance rate: .* \(acceptance reported by the editor\)/);
  await workbench.quickPickRow(/Fine-tune completions on this workspace/);
  await workbench.screenshot('02b-status-menu');
  await page.keyboard.press('Escape');
}

/**
 * A space typed and taken back: the editor asks for a suggestion as after any keystroke, and
 * the last request is at the cursor's place with the text as it was (on an empty line the
 * explicit trigger, Alt+\\, brought no request to the server in this code-server).
 * @param {import('playwright-core').Page} page
 */
async function keystrokeInPlace(page) {
  await page.keyboard.press('Space');
  await page.keyboard.press('Backspace');
}

/** @param {StepContext} ctx */
export async function nonPythonFile({ workbench, page }) {
  await workbench.openFile('notes.md');
  await workbench.focusEditorEnd();
  await workbench.type('More text ');
  await workbench.triggerInlineSuggestion();
  await page.waitForTimeout(3000);
  assert.equal(await workbench.ghostCount(), 0);
  await page.keyboard.press('F1');
  await page.locator('.quick-input-widget input').fill('>EvoSelfCode: Self-evolve');
  await page.waitForTimeout(1000);
  const offered = page.locator('.quick-input-list .monaco-list-row', { hasText: 'Self-evolve' });
  assert.equal(await offered.count(), 0);
  await workbench.screenshot('03-non-python');
  await page.keyboard.press('Escape');
}

/** @param {StepContext} ctx */
export async function hugeSelection({ workbench, page }) {
  await workbench.openFile('big.py');
  await workbench.focusEditorEnd();
  await page.keyboard.press('Control+A');
  await workbench.runCommand('EvoSelfCode: Self-evolve this function');
  await workbench.notification(/The selection is too large \(\d+ lines/, 30_000);
  await workbench.screenshot('04-huge-selection');
  await workbench.clearNotifications();
}

/** Kills the server four times; three restarts, then the user decides. @param {StepContext} ctx */
export async function crashingServer({ workbench, codeServerPid }) {
  const serverPids = () => descendantsMatching(codeServerPid, '-m server serve');
  let previous = -1;
  for (let crash = 1; crash <= 4; crash++) {
    const pid = await waitFor(async () => serverPids().find((p) => p !== previous), {
      timeoutMs: 60_000,
      what: `a language server process (crash ${crash})`,
    });
    await workbench.statusBarItem(MODEL, 60_000);
    say(`killing the language server (pid ${pid}), crash ${crash} of 4`);
    process.kill(pid, 'SIGKILL');
    previous = pid;
  }
  await workbench.notification(
    /signal SIGKILL.*crashed 4 times in a few minutes, so it was not restarted again/,
    60_000,
  );
  await workbench.screenshot('05-crashed-too-often');
  assert.deepEqual(serverPids(), [], 'no fifth server was started');
  await workbench.clickNotificationButton(/crashed 4 times/, 'Restart server');
  await workbench.statusBarItem(MODEL, 60_000);
  assert.equal(serverPids().length, 1);
  await workbench.clearNotifications();
}

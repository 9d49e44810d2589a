// @ts-check
/** Steps without the remote models: start-up problems, ghost text, toggles, crashes. */
import assert from 'node:assert/strict';
import { PYTHON, say } from '../harness.mjs';
import { descendantsMatching, waitFor } from '../processes.mjs';

/** @typedef {import('./context.mjs').StepContext} StepContext */

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
  say(`status bar after the fix: ${await workbench.statusBarItem(/smoke-model/, 120_000)}`);
  await workbench.clearNotifications();
}

/** Ghost text, the status bar menu, and the on/off toggle. @param {StepContext} ctx */
export async function ghostText({ workbench, page }) {
  // Ready (not "loading"); "(random)" marks the random-weight model.
  await workbench.statusBarItem(/smoke-model \(random\)/, 120_000);
  await workbench.focusEditorEnd();
  // Inside a comment any junk is valid Python, so the server's syntax filter keeps it.
  await workbench.type('# The circle helpers compute the ');
  await workbench.triggerInlineSuggestion();
  const ghost = await workbench.ghostText(60_000);
  say(`ghost text (random weights, junk expected): ${JSON.stringify(ghost)}`);
  assert.ok(ghost.trim().length > 0, 'the ghost text is empty');
  await workbench.screenshot('02-ghost-text');
  await page.keyboard.press('Escape');

  // The status bar: p50 latency now, and a click shows the details and the actions.
  await workbench.statusBarItem(/smoke-model \(random\) · p50 \d/, 30_000);
  await page.locator('.statusbar-item', { hasText: 'smoke-model' }).first().click();
  await workbench.quickPickRow(/Inline completions: on/);
  await workbench.quickPickRow(/Random weights \(test model\)/);
  await workbench.quickPickRow(/Turn inline completions off/);
  await workbench.screenshot('02b-status-menu');
  await page.keyboard.press('Escape');

  // Off: no ghost text (and the status bar says so); on again: ghost text again.
  await workbench.runCommand('EvoSelfCode: Toggle inline completions');
  await page.locator('.statusbar-item .codicon-circle-slash').waitFor({ timeout: 10_000 });
  await workbench.focusEditorEnd();
  await workbench.type('x');
  await workbench.triggerInlineSuggestion();
  await page.waitForTimeout(3000);
  assert.equal(await workbench.ghostCount(), 0, 'ghost text while completions are off');
  await workbench.runCommand('EvoSelfCode: Toggle inline completions');
  await page.locator('.statusbar-item .codicon-check').waitFor({ timeout: 10_000 });
  await workbench.type('y');
  await workbench.triggerInlineSuggestion();
  assert.ok((await workbench.ghostText(60_000)).trim().length > 0);
  await page.keyboard.press('Escape');
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
    await workbench.statusBarItem(/smoke-model/, 60_000);
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
  await workbench.statusBarItem(/smoke-model/, 60_000);
  assert.equal(serverPids().length, 1);
  await workbench.clearNotifications();
}

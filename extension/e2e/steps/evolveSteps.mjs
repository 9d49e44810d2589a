// @ts-check
/** Self-evolve against the scripted test server: keys, the diff, Accept, stale, Cancel, gates. */
import assert from 'node:assert/strict';
import {
  API_KEY,
  BROKEN_AREA,
  generatorRule,
  IMPROVED_MEAN,
  IMPROVED_MEAN_AGAIN,
  NEW_MEDIAN,
  verifierRule,
} from '../fixtures.mjs';
import { extensionLog, readStore } from '../harness.mjs';
import { freePort } from '../processes.mjs';

/** @typedef {import('./context.mjs').StepContext} StepContext */

/** A missing key says how to set it; with the key: the diff, Accept, the pair stored. @param {StepContext} ctx */
export async function acceptProposal({ workbench, testServer, dataDir, home }) {
  await testServer.setScript({ rules: [generatorRule(IMPROVED_MEAN), verifierRule()] });
  await workbench.openFile('stats.py');
  await workbench.clickLine('return sum(values)');
  await workbench.runCommand('EvoSelfCode: Self-evolve this function');
  // The test server demands a key and none is stored yet.
  await workbench.notification(/endpoint at .* needs an API key/, 120_000);
  await workbench.screenshot('06-missing-api-key');
  await workbench.clickNotificationButton(/needs an API key/, 'Set API key');
  await workbench.pick('Both');
  await workbench.answerInput(API_KEY);
  await workbench.notification(
    /API key stored in the secret storage \(generator and verifier\)/,
    30_000,
  );
  await workbench.clearNotifications();

  await workbench.clickLine('return sum(values)');
  await workbench.runCommand('EvoSelfCode: Self-evolve this function');
  await workbench.notification(
    /Proposed change passed 4 gates, verifier: yes \(confidence 0\.9\d\)/,
    120_000,
  );
  await workbench.screenshot('07-self-evolve-diff');
  await workbench.clickNotificationButton(/Proposed change passed/, 'Accept');
  await workbench.notification(/applied; recorded as training pair /, 30_000);
  await workbench.screenshot('08-self-evolve-accepted');
  assert.match(await workbench.editorText(), /math\.fsum\(values\)/);
  const records = readStore(dataDir);
  assert.equal(records.length, 1, 'one pair in the store');
  assert.match(records[0].code, /math\.fsum/);
  const logs = extensionLog(home);
  assert.ok(logs.includes('API keys handed to the server'), 'the keys were handed over');
  assert.ok(!logs.includes(API_KEY), 'the API key reached the log');

  await workbench.runCommand('EvoSelfCode: Show training data');
  await workbench.notification(/Training data in .*pairs\.jsonl: 1 pair \(1 trainable/, 30_000);
  await workbench.screenshot('08b-training-data');
  await workbench.clearNotifications();
}

/** The user edits the function before deciding: nothing applied silently. @param {StepContext} ctx */
export async function staleProposal({ workbench, page, testServer, dataDir }) {
  await testServer.setScript({ rules: [generatorRule(IMPROVED_MEAN_AGAIN), verifierRule()] });
  await workbench.openFile('stats.py');
  await workbench.clickLine('if not values');
  await workbench.runCommand('EvoSelfCode: Self-evolve this function');
  await workbench.notification(/Proposed change passed/, 120_000);
  await page.locator('.tab', { hasText: 'stats.py' }).first().click();
  await workbench.clickLine('if not values');
  await workbench.type('  # edited');
  await workbench.clickNotificationButton(/Proposed change passed/, 'Accept');
  await workbench.notification(/the function changed after the proposal was made/, 30_000);
  await workbench.screenshot('09-stale-proposal');
  await workbench.clickNotificationButton(/the function changed/, 'Discard');
  await workbench.notification(/proposal discarded; nothing was recorded/, 30_000);
  assert.equal(readStore(dataDir).length, 1, 'still one pair in the store');
  assert.doesNotMatch(await workbench.editorText(), /float\(len/);
  await workbench.clearNotifications();
}

/** Cancel on the progress notification reaches the server; nothing is recorded. @param {StepContext} ctx */
export async function cancelSelfEvolve({ workbench, page, testServer, dataDir, home }) {
  await testServer.setScript({ rules: [generatorRule(IMPROVED_MEAN_AGAIN), verifierRule()] });
  await testServer.setLatency(8);
  try {
    await workbench.openFile('stats.py');
    await workbench.clickLine('def mean');
    await workbench.runCommand('EvoSelfCode: Self-evolve this function');
    await workbench.notification(/self-evolving mean/, 30_000);
    await workbench.screenshot('10-self-evolve-progress');
    await workbench.clickNotificationButton(/self-evolving mean/, 'Cancel');
    await workbench.notification(/self-evolution cancelled; nothing was recorded/, 30_000);
    // Past the answer's delay: no proposal turns up late.
    await page.waitForTimeout(9000);
    const late = page.locator('.notification-toast', { hasText: 'Proposed change' });
    assert.equal(await late.count(), 0);
    assert.equal(readStore(dataDir).length, 1, 'still one pair in the store');
    assert.match(extensionLog(home), /self-evolve cancelled/, 'the server heard the cancel');
    await workbench.clearNotifications();
  } finally {
    await testServer.setLatency(0);
  }
}

/** Through the server's code action; the execution gate says no, and why. @param {StepContext} ctx */
export async function rejectedByGate({ workbench, testServer, dataDir }) {
  await testServer.setScript({ rules: [generatorRule(BROKEN_AREA), verifierRule()] });
  await workbench.openFile('hello.py');
  await workbench.clickLine('return math.pi');
  await workbench.runCodeAction('Self-evolve this function');
  await workbench.notification(
    /Self-evolution rejected by the execution gate: a test failed/,
    120_000,
  );
  await workbench.screenshot('11-rejected-by-gate');
  assert.equal(readStore(dataDir).length, 1, 'nothing recorded');
  await workbench.clearNotifications();
}

/** @param {StepContext} ctx */
export async function endpointDown({ workbench, page, applySettings }) {
  const deadUrl = `http://127.0.0.1:${await freePort()}/v1`;
  applySettings({ 'evoselfcode.generator.baseUrl': deadUrl });
  try {
    await page.waitForTimeout(2000); // the settings reach the server
    await workbench.openFile('stats.py');
    await workbench.clickLine('def mean');
    await workbench.runCommand('EvoSelfCode: Self-evolve this function');
    await workbench.notification(
      /generator (or verifier )?endpoint at .* cannot be reached/,
      120_000,
    );
    await workbench.screenshot('12-endpoint-down');
    await workbench.clearNotifications();
  } finally {
    applySettings();
  }
}

/**
 * "Generate code from this instruction" on a `self-evolve:` comment with no function: the
 * generator writes a new one, shown as a proposal; Accept inserts it below the comment.
 * @param {StepContext} ctx
 */
export async function instructionToNewFunction({ workbench, testServer, dataDir }) {
  await testServer.setScript({ rules: [generatorRule(NEW_MEDIAN), verifierRule()] });
  await workbench.openFile('stats.py');
  await workbench.focusEditorEnd();
  await workbench.type('\n\n# self-evolve: median(values) returns the middle value');
  await workbench.runCodeAction('Generate code from this instruction');
  await workbench.notification(/Proposed change passed/, 120_000);
  await workbench.screenshot('13-instruction-proposal');
  await workbench.clickNotificationButton(/Proposed change passed/, 'Accept');
  await workbench.notification(/applied; recorded as training pair /, 30_000);
  assert.match(await workbench.editorText(), /def median\(values\):/);
  assert.equal(readStore(dataDir).length, 2, 'the new pair is in the store');
  await workbench.clearNotifications();
}

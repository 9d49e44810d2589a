// @ts-check
/** The long runs: evaluation with live progress, fine-tuning on a store too small to train. */
import assert from 'node:assert/strict';
import { say } from '../harness.mjs';

/** @typedef {import('./context.mjs').StepContext} StepContext */

/** @param {StepContext} ctx */
export async function evaluate({ workbench }) {
  await workbench.runCommand('EvoSelfCode: Evaluate on HumanEval');
  await workbench.answerInput('3');
  // Live progress, with Cancel, while it runs.
  const running = await workbench.notification(/evaluating on humaneval/, 60_000);
  assert.equal(await running.getByRole('button', { name: 'Cancel' }).count(), 1);
  await workbench.screenshot('14-evaluation-progress');
  await workbench.notification(/Evaluation of .* on 3 humaneval tasks: pass@1 \d+\.\d%/, 170_000);
  const text = await workbench.statusBarItem(/pass@1 \d+\.\d%/, 10_000);
  say(`status bar after the evaluation: ${text}`);
  await workbench.screenshot('15-evaluation');
  await workbench.clearNotifications();
}

/** One pair is not enough to train on: the user is told why. @param {StepContext} ctx */
export async function fineTuneTinyStore({ workbench }) {
  await workbench.runCommand('EvoSelfCode: Fine-tune local model');
  await workbench.notification(/Fine-tuning failed: only \d+ usable training records/, 120_000);
  await workbench.screenshot('16-finetune-tiny-store');
  await workbench.clearNotifications();
}

// @ts-check
/** What every end-to-end step works with (built once by the test file's `before`). */

/**
 * @typedef {object} StepContext
 * @property {import('../workbench.mjs').Workbench} workbench the VS Code page
 * @property {import('playwright-core').Page} page
 * @property {string} home code-server's run folder (profile and logs)
 * @property {string} workspace the folder VS Code has open (hello.py and the other files)
 * @property {number} codeServerPid
 * @property {Awaited<ReturnType<typeof import('../harness.mjs').startTestServer>>} testServer
 * @property {string} dataDir `evoselfcode.dataDir` (the training-data store lives there)
 * @property {string} bareVenvPython a Python without the server's packages
 * @property {Record<string, unknown>} settings the workspace settings the steps start from
 * @property {(overrides?: Record<string, unknown>) => void} applySettings writes `settings`
 *   (with `overrides` on top) to the workspace's .vscode/settings.json
 */

export {};

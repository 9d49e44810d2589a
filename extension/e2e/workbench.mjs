// @ts-check
/**
 * What a person does in VS Code, through Playwright on code-server's page: open a file, type,
 * run a command from the palette, answer an input box, click a notification's button, read
 * the status bar and the ghost text, take screenshots.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const MOD = 'Control';

export class Workbench {
  /**
   * @param {import('playwright-core').Page} page
   * @param {string} screenshotDir
   */
  constructor(page, screenshotDir) {
    this.page = page;
    this.screenshotDir = screenshotDir;
    mkdirSync(screenshotDir, { recursive: true });
  }

  /** Opens the workspace and waits for the workbench. @param {string} url @param {string} folder */
  async open(url, folder) {
    await this.page.goto(`${url}/?folder=${encodeURIComponent(folder)}`);
    await this.page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    await this.page
      .locator('.explorer-folders-view, .explorer-viewlet')
      .first()
      .waitFor({ timeout: 60_000 });
  }

  /** Opens a file from the explorer and waits for its editor. @param {string} name */
  async openFile(name) {
    const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    await this.page
      .getByRole('treeitem', { name: new RegExp(escaped) })
      .first()
      .click();
    await this.page.locator('.monaco-editor .view-lines').first().waitFor({ timeout: 30_000 });
    await this.page.locator(`.tab.active`, { hasText: name }).waitFor({ timeout: 30_000 });
  }

  /** Clicks into the editor and puts the cursor at the end of the document. */
  async focusEditorEnd() {
    await this.page.locator('.monaco-editor .view-lines').first().click();
    await this.page.keyboard.press(`${MOD}+End`);
  }

  /** Puts the cursor at the end of the first visible line that contains `text`. @param {string} text */
  async clickLine(text) {
    await this.page.locator('.monaco-editor .view-line', { hasText: text }).first().click();
    await this.page.keyboard.press('End');
  }

  /** Types like a person (one key at a time). @param {string} text */
  async type(text) {
    await this.page.keyboard.type(text, { delay: 25 });
  }

  /** Alt+\ — asks for an inline suggestion now. */
  async triggerInlineSuggestion() {
    await this.page.keyboard.press('Alt+Backslash');
  }

  /** The ghost text shown in the editor (waits until there is some). @param {number} timeoutMs */
  async ghostText(timeoutMs) {
    const ghost = this.page.locator(
      '.ghost-text-decoration, .ghost-text-decoration-preview, .ghost-text',
    );
    await ghost.first().waitFor({ state: 'attached', timeout: timeoutMs });
    const texts = await ghost.allTextContents();
    return texts.join('\n');
  }

  /** How many ghost-text pieces the editor shows now. */
  async ghostCount() {
    return this.page.locator('.ghost-text-decoration, .ghost-text').count();
  }

  /** Waits for a row of the open quick pick (without picking it). @param {string | RegExp} label */
  async quickPickRow(label) {
    const row = this.page.locator('.quick-input-list .monaco-list-row', { hasText: label }).first();
    await row.waitFor({ timeout: 10_000 });
    return row;
  }

  /** Runs a command by its palette title. @param {string} title */
  async runCommand(title) {
    await this.page.keyboard.press('F1');
    const input = this.page.locator('.quick-input-widget input');
    await input.waitFor({ timeout: 10_000 });
    await input.fill(`>${title}`);
    const item = this.page
      .locator('.quick-input-list .monaco-list-row', { hasText: title })
      .first();
    await item.waitFor({ timeout: 10_000 });
    await item.click();
  }

  /** Opens the code actions at the cursor (Ctrl+.) and runs the one titled `title`. @param {string} title */
  async runCodeAction(title) {
    await this.page.keyboard.press(`${MOD}+Period`);
    const row = this.page.locator('.action-widget .monaco-list-row', { hasText: title }).first();
    await row.waitFor({ timeout: 30_000 });
    await row.click();
  }

  /** Types into the open input box or quick pick and presses Enter. @param {string} text */
  async answerInput(text) {
    const input = this.page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible', timeout: 10_000 });
    await input.fill(text);
    await input.press('Enter');
  }

  /** Picks an item of the open quick pick by its label. @param {string | RegExp} label */
  async pick(label) {
    const row = this.page.locator('.quick-input-list .monaco-list-row', { hasText: label }).first();
    await row.waitFor({ timeout: 10_000 });
    await row.click();
  }

  /**
   * A notification toast whose text matches (waits for it).
   * @param {RegExp} text @param {number} timeoutMs
   */
  async notification(text, timeoutMs) {
    const toast = this.page
      .locator('.notifications-toasts .notification-toast', { hasText: text })
      .first();
    await toast.waitFor({ timeout: timeoutMs });
    return toast;
  }

  /** Clicks a button of the notification that matches. @param {RegExp} text @param {string} button */
  async clickNotificationButton(text, button, timeoutMs = 30_000) {
    const toast = await this.notification(text, timeoutMs);
    await toast.getByRole('button', { name: button }).click();
  }

  /** Closes every notification toast (so the next assertion sees only new ones). */
  async clearNotifications() {
    await this.runCommand('Notifications: Clear All Notifications');
  }

  /** Text of the status bar item that matches (waits for it). @param {RegExp} text @param {number} timeoutMs */
  async statusBarItem(text, timeoutMs) {
    const item = this.page.locator('.statusbar-item', { hasText: text }).first();
    await item.waitFor({ timeout: timeoutMs });
    return (await item.textContent()) ?? '';
  }

  /** The whole text of the active editor (Monaco renders only the visible lines). */
  async editorText() {
    return (await this.page.locator('.monaco-editor .view-lines').first().innerText()).replace(
      /\u00a0/g,
      ' ',
    );
  }

  /** @param {string} name */
  async screenshot(name) {
    // Notification toasts fade in: let them settle, so the picture shows what a person reads.
    await this.page.waitForTimeout(500);
    const path = join(this.screenshotDir, `${name}.png`);
    await this.page.screenshot({ path });
    return path;
  }
}

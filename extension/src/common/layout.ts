/** Where the server's Python code is: the checkout itself, or bundled/python in a .vsix. */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Where the server's Python packages are, and whether the extension runs from a checkout. */
export interface ServerLayout {
  /** Folder put on PYTHONPATH: holds server/, models/, evolution/, evaluation/, pyproject.toml. */
  pythonRoot: string;
  /** The repository root when the extension runs from a checkout (for its `.venv`). */
  checkoutRoot?: string;
}

/**
 * The repository itself when the extension runs from a checkout (its sources, its `.venv`);
 * bundled/python inside an installed .vsix.
 */
export function findServerLayout(extensionPath: string): ServerLayout {
  const isCheckout =
    fs.existsSync(path.join(extensionPath, 'server', '__init__.py')) &&
    fs.existsSync(path.join(extensionPath, 'pyproject.toml'));
  if (isCheckout) return { pythonRoot: extensionPath, checkoutRoot: extensionPath };
  return { pythonRoot: path.join(extensionPath, 'bundled', 'python') };
}

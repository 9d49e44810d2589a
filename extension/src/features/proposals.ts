/**
 * Self-evolve proposals waiting for Accept / Reject, and their read-only documents
 * (`evoselfcode-proposal:/<id>/original.py` and `.../proposed.py`) for the diff editor.
 */
import * as vscode from 'vscode';
import { EvolveResult } from '../common/protocol';

export const PROPOSAL_SCHEME = 'evoselfcode-proposal';

export interface Proposal {
  result: EvolveResult;
  /** The document the function lives in. */
  documentUri: vscode.Uri;
  /** Turned down by a gate: shown for reading, never applied. */
  rejected: boolean;
}

export class ProposalStore implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly proposals = new Map<string, Proposal>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  add(result: EvolveResult, documentUri: vscode.Uri): Proposal {
    const proposal = { result, documentUri, rejected: !result.ok };
    this.proposals.set(result.id, proposal);
    return proposal;
  }

  get(id: string): Proposal | undefined {
    return this.proposals.get(id);
  }

  delete(id: string): void {
    this.proposals.delete(id);
  }

  /** The proposal shown in a proposal document (either side of the diff). */
  fromUri(uri: vscode.Uri | undefined): Proposal | undefined {
    if (!uri || uri.scheme !== PROPOSAL_SCHEME) return undefined;
    return this.proposals.get(uri.path.split('/')[1] ?? '');
  }

  uris(id: string): { original: vscode.Uri; proposed: vscode.Uri } {
    const base = vscode.Uri.from({ scheme: PROPOSAL_SCHEME, path: `/${id}` });
    return {
      original: vscode.Uri.joinPath(base, 'original.py'),
      proposed: vscode.Uri.joinPath(base, 'proposed.py'),
    };
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    const proposal = this.fromUri(uri);
    if (!proposal) return '# This proposal is no longer available.\n';
    return uri.path.endsWith('/original.py')
      ? proposal.result.original
      : (proposal.result.proposed ?? '');
  }

  /** Opens original ↔ proposed side by side. */
  async showDiff(proposal: Proposal, title: string): Promise<void> {
    const { original, proposed } = this.uris(proposal.result.id);
    await vscode.commands.executeCommand('vscode.diff', original, proposed, title, {
      preview: false,
    });
  }

  /** Closes the diff tabs of a proposal once it is decided. */
  async closeDiff(id: string): Promise<void> {
    const tabs = vscode.window.tabGroups.all
      .flatMap((group) => group.tabs)
      .filter((tab) => {
        const input = tab.input;
        return (
          input instanceof vscode.TabInputTextDiff && this.fromUri(input.modified)?.result.id === id
        );
      });
    if (tabs.length) await vscode.window.tabGroups.close(tabs);
  }

  dispose(): void {
    this.changed.dispose();
    this.proposals.clear();
  }
}

/**
 * Which server progress belongs to which running request (pure; used by ServerProgressUi).
 *
 * A request that shows its own cancellable notification (self-evolve, instruction to code)
 * opens a claim; the first server progress that begins while the claim is open reports into
 * that notification instead of opening a second one. A claim takes one progress at most:
 * later ones are other work (a fine-tuning run started meanwhile keeps its own notification).
 */

export type ProgressSink = (message: string | undefined, percentage: number | undefined) => void;

export interface ProgressEvent {
  kind: 'begin' | 'report' | 'end';
  message?: string;
  percentage?: number;
}

export interface ClaimHandle<Token> {
  /** The claimed progress's token while it runs (to cancel it), else undefined. */
  token(): Token | undefined;
  close(): void;
}

interface Claim<Token> {
  sink: ProgressSink;
  token?: Token;
  used: boolean;
}

export class ProgressClaims<Token> {
  private readonly claims: Claim<Token>[] = [];

  open(sink: ProgressSink): ClaimHandle<Token> {
    const claim: Claim<Token> = { sink, used: false };
    this.claims.push(claim);
    return {
      token: () => claim.token,
      close: () => {
        const index = this.claims.indexOf(claim);
        if (index >= 0) this.claims.splice(index, 1);
      },
    };
  }

  /** Hands the event to the claim it belongs to; false when no claim takes it. */
  route(token: Token, event: ProgressEvent): boolean {
    const owner = this.claims.find((c) => c.token === token);
    if (owner) {
      if (event.kind === 'end') owner.token = undefined;
      else owner.sink(event.message, event.percentage);
      return true;
    }
    if (event.kind !== 'begin') return false;
    // The newest open claim is the request most likely to have caused this progress.
    const free = [...this.claims].reverse().find((c) => !c.used);
    if (!free) return false;
    free.used = true;
    free.token = token;
    free.sink(event.message, event.percentage);
    return true;
  }
}

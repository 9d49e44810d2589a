/** How many times a crashing server is restarted before the user is asked to step in. */
export class RestartBudget {
  private restarts: number[] = [];

  constructor(
    readonly maxRestarts = 3,
    readonly windowMs = 3 * 60 * 1000,
  ) {}

  /** Records a crash at `now`; true when another automatic restart is allowed. */
  tryRestart(now: number): boolean {
    this.restarts = this.restarts.filter((t) => now - t < this.windowMs);
    if (this.restarts.length >= this.maxRestarts) return false;
    this.restarts.push(now);
    return true;
  }

  /** Restarts used inside the current window. */
  get used(): number {
    return this.restarts.length;
  }

  /** A manual restart or a settings change starts a fresh budget. */
  reset(): void {
    this.restarts = [];
  }
}

/** The last lines of a stream (the server's stderr), to say why it failed. */
export class LineTail {
  private lines: string[] = [];
  private partial = '';

  constructor(readonly maxLines = 60) {}

  /** Adds a chunk of text; complete lines are kept, a trailing partial line waits. */
  push(chunk: string): string[] {
    const parts = (this.partial + chunk).split(/\r?\n/);
    this.partial = parts.pop() ?? '';
    this.lines.push(...parts);
    if (this.lines.length > this.maxLines) this.lines.splice(0, this.lines.length - this.maxLines);
    return parts;
  }

  /** The kept lines, the partial one included. */
  get text(): string[] {
    return this.partial ? [...this.lines, this.partial] : [...this.lines];
  }

  clear(): void {
    this.lines = [];
    this.partial = '';
  }
}

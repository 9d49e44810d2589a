/** The extension's own errors: each message says what happened and what the user can do. */

export class EvoSelfCodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The server is not running (never started, failed to start, or gave up after crashes). */
export class ServerUnavailable extends EvoSelfCodeError {}

/** The running server does not offer a command (an older server, or a part not built yet). */
export class CommandUnsupported extends EvoSelfCodeError {
  constructor(readonly command: string) {
    super(`The running EvoSelfCode server does not offer "${command}".`);
  }
}

/** The user cancelled. Never shown as an error. */
export class Cancelled extends EvoSelfCodeError {
  constructor() {
    super('Cancelled.');
  }
}

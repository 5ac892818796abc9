/**
 * An error caused by the user's input (a file, a name, an option) rather than by a bug. Its
 * message is one line meant for people; the CLI prints it without a stack trace and exits 2,
 * the extension shows it as an error message.
 */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}

/** Thrown when a long job is cancelled. */
export class CancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'CancelledError';
  }
}

export function throwIfCancelled(signal?: AbortSignal): void {
  if (signal?.aborted) throw new CancelledError();
}

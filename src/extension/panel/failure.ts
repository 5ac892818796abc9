/** How a panel reports a failed run: to its webview, and (unless cancelled) as a VS Code error. */
import { MessageType, type FailedMessage } from '../../shared/protocol/common';
import { CancelledError, UserError } from '../../shared/errors';

export function reportFailure(
  err: unknown,
  requestId: number | undefined,
  post: (m: FailedMessage) => void,
  showError: (message: string) => void,
  what: string,
): void {
  const cancelled = err instanceof CancelledError;
  const message = cancelled ? 'Cancelled.' : err instanceof Error ? err.message : String(err);
  post({ type: MessageType.Failed, requestId, message, cancelled });
  if (cancelled) return;
  // A UserError is the user's input, said in one line; anything else is a bug worth a stack.
  if (!(err instanceof UserError)) console.error('XAI Lens:', err);
  showError(`${what} failed: ${message}`);
}

/** Errors across threads: a user's error stays a UserError, a cancel a CancelledError. */
import { CancelledError, UserError } from '../../shared/errors';
import type { WireError } from './protocol';

export function toWire(err: unknown): WireError {
  if (err instanceof Error) return { name: err.name, message: err.message, ...(err.stack ? { stack: err.stack } : {}) };
  return { name: 'Error', message: String(err) };
}

export function fromWire(e: WireError): Error {
  if (e.name === 'CancelledError') return new CancelledError();
  if (e.name === 'UserError') return new UserError(e.message);
  const err = new Error(e.message);
  err.name = e.name;
  if (e.stack) err.stack = e.stack;
  return err;
}

/** The wasm backend aborts (emscripten's `Aborted()`) when its heap cannot grow; the module is unusable afterwards. */
export function isBackendAbort(err: unknown): boolean {
  return err instanceof Error && /Aborted\(/.test(err.message);
}

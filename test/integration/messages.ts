/** What the integration tests read of the extension: the messages it posts to one panel. */
import { MessageType } from '../../src/shared/protocol/common';
import type { ToWebviewMessage } from '../../src/extension/panel/services';
import type { XaiLensApi } from '../../src/extension/extension';

/** Collects what the extension posts to the panels about `subject` (an image, experiment or model file) until `until` says stop. */
export function collectMessages(api: XaiLensApi, subject: string, until: (m: ToWebviewMessage, all: ToWebviewMessage[]) => boolean, timeoutMs: number): Promise<ToWebviewMessage[]> {
  return new Promise((resolve, reject) => {
    const all: ToWebviewMessage[] = [];
    const timer = setTimeout(() => {
      sub.dispose();
      reject(new Error(`timed out; got ${all.map((m) => m.type).join(', ')}`));
    }, timeoutMs);
    const sub = api.onDidPostMessage((e) => {
      if (e.subject !== subject) return;
      all.push(e.message);
      if (until(e.message, all)) {
        clearTimeout(timer);
        sub.dispose();
        resolve(all);
      }
    });
  });
}

/** A run has ended, done or failed. */
export const finished = (m: ToWebviewMessage) => m.type === MessageType.Done || m.type === MessageType.Failed;

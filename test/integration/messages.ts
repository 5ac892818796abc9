/** What the integration tests read of the extension: the messages it posts to one panel. */
import { MessageType, type ToPanelMessage } from '../../src/shared/protocol';
import type { XaiLensApi } from '../../src/extension/extension';

/** Collects what the extension posts to one panel until `until` says stop. */
export function collectMessages(api: XaiLensApi, imagePath: string, until: (m: ToPanelMessage, all: ToPanelMessage[]) => boolean, timeoutMs: number): Promise<ToPanelMessage[]> {
  return new Promise((resolve, reject) => {
    const all: ToPanelMessage[] = [];
    const timer = setTimeout(() => {
      sub.dispose();
      reject(new Error(`timed out; got ${all.map((m) => m.type).join(', ')}`));
    }, timeoutMs);
    const sub = api.onDidPostMessage((e) => {
      if (e.imagePath !== imagePath) return;
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
export const finished = (m: ToPanelMessage) => m.type === MessageType.Done || m.type === MessageType.Failed;

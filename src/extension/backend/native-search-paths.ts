/**
 * Where the native TensorFlow.js backends (@tensorflow/tfjs-node, -gpu) are looked for: the
 * extension's own on-demand install first, then the workspace folders' node_modules. Loading a
 * package runs its code, so a workspace the user has not trusted is never searched: there the
 * native backends come from the extension's install only.
 */
import * as path from 'node:path';

export function nativeSearchPaths(extensionStorage: string, workspaceFolders: readonly string[], workspaceTrusted: boolean): string[] {
  return [path.join(extensionStorage, 'native'), ...(workspaceTrusted ? workspaceFolders : [])];
}

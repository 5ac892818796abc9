/**
 * File system errors in words, for one-line messages: "permission denied", "is a file". Node's
 * errors carry a code (EACCES) and the path; an error that crossed from a worker thread keeps only
 * its message ("EACCES: permission denied, open '/out/x.npy'"), which is read back here.
 */

const REASONS: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied (operation not permitted)',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EEXIST: 'it already exists',
  EISDIR: 'it is a folder',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exceeded',
  EROFS: 'the file system is read-only',
  ENOENT: 'no such file or folder',
  ENAMETOOLONG: 'the name is too long',
  ELOOP: 'too many levels of symbolic links',
  EMFILE: 'too many open files',
  EBUSY: 'the file is busy',
};

/** The file system error codes that are the user's environment, not a bug: the CLI reports them in one line, exit 2. */
export const USER_FS_CODES: readonly string[] = ['EACCES', 'EPERM', 'ENOTDIR', 'EEXIST', 'EISDIR', 'ENOSPC', 'EDQUOT', 'EROFS', 'ENOENT', 'ENAMETOOLONG', 'ELOOP'];

/** What to do, by syscall, in the words of a message ("cannot create the folder …"). */
const VERBS: Readonly<Record<string, string>> = {
  mkdir: 'create the folder',
  mkdtemp: 'create a folder in',
  open: 'open',
  write: 'write',
  read: 'read',
  rename: 'rename',
  unlink: 'remove',
  rmdir: 'remove',
  rm: 'remove',
  scandir: 'list',
  stat: 'read',
  lstat: 'read',
  copyfile: 'copy',
};

interface FsErrorParts {
  code: string;
  syscall?: string;
  path?: string;
}

/** The code, syscall and path of a file system error, from its fields or (after a thread hop) its message. */
export function fsErrorParts(err: unknown): FsErrorParts | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as NodeJS.ErrnoException;
  if (typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code)) return { code: e.code, syscall: e.syscall, path: e.path };
  const m = /^(E[A-Z]+): [^,]*(?:, (\w+) '([^']*)')?/.exec(typeof e.message === 'string' ? e.message : '');
  return m ? { code: m[1], syscall: m[2], path: m[3] } : undefined;
}

/** A code in words: EACCES → "permission denied". */
export function fsReason(code: string): string {
  return REASONS[code] ?? code;
}

/** The error's reason in words ("permission denied"), or its message when it is no file system error. */
export function fsErrorReason(err: unknown): string {
  const parts = fsErrorParts(err);
  if (parts) return fsReason(parts.code);
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}

/** "cannot open /out/x.npy: permission denied", or undefined when `err` is no file system error. */
export function describeFsError(err: unknown): string | undefined {
  const parts = fsErrorParts(err);
  if (!parts || !(parts.code in REASONS)) return undefined;
  const verb = (parts.syscall && VERBS[parts.syscall]) ?? 'use';
  return parts.path ? `cannot ${verb} ${parts.path}: ${fsReason(parts.code)}` : `a file operation failed: ${fsReason(parts.code)}`;
}

/**
 * The product's state on disk (the SQLite database with token hashes and requests, Temporal's dev
 * server database with every workflow history, their logs) is for the process's owner alone:
 * directories it creates are 0700, files 0600, whatever the umask would allow.
 */
import fs from 'node:fs';

/** Creates `dir` and any missing parents with mode 0700. An existing directory is left as it is (it may be shared, e.g. /tmp). */
export function makePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/**
 * Creates `file` (empty) with mode 0600 when it does not exist, and takes group and other
 * permissions away from one that does (left so by an earlier version). Its contents are untouched.
 */
export function makePrivateFile(file: string): void {
  const descriptor = fs.openSync(file, 'a', 0o600);
  try {
    if (fs.fstatSync(descriptor).mode & 0o077) fs.fchmodSync(descriptor, 0o600);
  } finally {
    fs.closeSync(descriptor);
  }
}

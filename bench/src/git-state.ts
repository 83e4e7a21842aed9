import { execFileSync } from "node:child_process";

/** The commit checked out at `dir`, and whether `paths` (relative to `dir`) hold uncommitted changes; undefined outside git. */
export function gitState(dir: string, paths: readonly string[]): { commit: string; dirty: boolean } | undefined {
  try {
    const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: dir, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", ...paths], { cwd: dir, encoding: "utf8" }).trim() !== "";
    return { commit, dirty };
  } catch {
    return undefined;
  }
}

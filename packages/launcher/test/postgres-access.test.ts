import { chmod, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { firstUnreachableFolder } from "../src/services/postgres-access";

let root: string;
// Someone who owns nothing here, as the `postgres` user owns nothing in root's home.
const stranger = { uid: 54_321, gid: 54_321 };

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "parley-access-"));
  await chmod(root, 0o755);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("a folder the embedded server's user cannot enter", () => {
  it("is named when a folder on the way is closed to others (a clone in root's home)", async () => {
    const home = path.join(root, "home");
    await mkdir(path.join(home, "parley", ".parley"), { recursive: true });
    await chmod(home, 0o700);
    expect(await firstUnreachableFolder(stranger, [path.join(home, "parley", ".parley", "postgres")])).toBe(home);
  });

  it("is none when every folder on the way lets others through", async () => {
    const open = path.join(root, "opt", "parley");
    await mkdir(open, { recursive: true });
    await chmod(path.join(root, "opt"), 0o755);
    expect(await firstUnreachableFolder(stranger, [open, path.join(open, "not-created-yet")])).toBeUndefined();
  });

  it("counts the owner's and the group's bits for their own folders", async () => {
    const owned = path.join(root, "owned");
    await mkdir(owned);
    await chmod(owned, 0o700);
    expect(await firstUnreachableFolder({ uid: process.getuid?.() ?? 0, gid: 54_321 }, [owned])).toBeUndefined();
  });
});

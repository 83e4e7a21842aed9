import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseRoute, type Route } from "../src/router";

const readme = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");

/** The rows of the README's route table: each path (first cell) with the screen it names. */
function documentedRoutes(): string[] {
  const table = readme.slice(readme.indexOf("| route | screen |"));
  const rows = table.split("\n").slice(2);
  const paths: string[] = [];
  for (const row of rows) {
    if (!row.startsWith("|")) break;
    for (const match of row.split("|")[1]?.matchAll(/`([^`]+)`/g) ?? []) if (match[1] !== undefined) paths.push(match[1]);
  }
  return paths;
}

const route = (path: string): Route => parseRoute(new URL(path.replace("<id>", "0193a1b2-0000-7000-8000-000000000001"), "http://app.test"));

describe("the web app's routes", () => {
  it("the README documents exactly the routes the app knows", () => {
    const names = documentedRoutes().map((path) => route(path).name);
    expect(names).not.toContain("not-found");
    const known: Route["name"][] = ["login", "signup", "conversations", "new-conversation", "conversation", "search", "settings", "confirm-email", "operations"];
    expect(new Set(names)).toEqual(new Set(known));
  });

  it("reads the e-mailed links", () => {
    expect(route("/conversations/<id>")).toEqual({ name: "conversation", id: "0193a1b2-0000-7000-8000-000000000001" });
    expect(route("/settings/notifications")).toEqual({ name: "settings", section: "notifications" });
    expect(route("/confirm-email?token=abc%2Bdef")).toEqual({ name: "confirm-email", token: "abc+def" });
    expect(route("/conversations?archived=true")).toEqual({ name: "conversations", archived: true });
    expect(route("/search?q=hello%20world")).toEqual({ name: "search", q: "hello world" });
    expect(route("/nowhere")).toEqual({ name: "not-found", path: "/nowhere" });
  });
});

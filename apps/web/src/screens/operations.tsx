import type { RestResponse } from "@parley/sdk";
import { useEffect, useState } from "preact/hooks";
import { describeError } from "../errors";
import type { Session } from "../session";

type Stats = RestResponse<"getStats">;

const REFRESH_MS = 2_000;

/** Cluster statistics per edge node for admins, refreshed every two seconds while the page is open. */
export function Operations({ session }: { session: Session }) {
  const [stats, setStats] = useState<Stats | undefined>();
  const [updated, setUpdated] = useState<Date | undefined>();
  const [error, setError] = useState<string | undefined>();

  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let current = true;
    const poll = async () => {
      try {
        const next = await session.rest.api.getStats();
        if (!current) return;
        setStats(next);
        setUpdated(new Date());
        setError(undefined);
      } catch (caught) {
        if (current) setError(describeError(caught));
      }
      if (current) timer = setTimeout(() => void poll(), REFRESH_MS);
    };
    void poll();
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [session]);

  return (
    <section aria-labelledby="ops-title" class="stack">
      <h1 id="ops-title">Operations</h1>
      {error !== undefined && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {stats !== undefined && (
        <>
          <dl class="stats">
            <div>
              <dt>Connections</dt>
              <dd data-testid="stat-connections">{stats.connections}</dd>
            </div>
            <div>
              <dt>Users online</dt>
              <dd>{stats.users}</dd>
            </div>
            <div>
              <dt>Users on several devices</dt>
              <dd>{stats.users_with_multiple_connections}</dd>
            </div>
          </dl>
          <table>
            <caption>Per edge node{updated !== undefined && <span class="hint"> · updated {updated.toLocaleTimeString()}</span>}</caption>
            <thead>
              <tr>
                <th scope="col">Node</th>
                <th scope="col">Connections</th>
                <th scope="col">Users</th>
              </tr>
            </thead>
            <tbody>
              {stats.nodes.map((node) => (
                <tr key={node.node}>
                  <th scope="row">{node.node}</th>
                  <td>{node.connections}</td>
                  <td>{node.users}</td>
                </tr>
              ))}
              {stats.nodes.length === 0 && (
                <tr>
                  <td colSpan={3}>No edge holds a connection.</td>
                </tr>
              )}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

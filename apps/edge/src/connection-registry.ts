import type { Connection } from "./connection";

/** This node's sockets: all of them (heartbeats, drain), and the authenticated ones by user and by token id. */
export class ConnectionRegistry {
  private readonly all = new Set<Connection>();
  private readonly byUser = new Map<string, Set<Connection>>();
  private readonly byJti = new Map<string, Set<Connection>>();

  /** Every socket, authenticated or not. */
  add(connection: Connection): void {
    this.all.add(connection);
  }

  /** Indexes an authenticated socket by its user and token id. */
  index(connection: Connection): void {
    const identity = connection.identity;
    if (identity === undefined) return;
    addTo(this.byUser, identity.userId, connection);
    if (identity.claims.jti !== undefined) addTo(this.byJti, identity.claims.jti, connection);
  }

  /** The socket's token changed (a fresh `auth`): re-index by the new token id. */
  reindexToken(connection: Connection, previousJti: string | undefined): void {
    if (previousJti !== undefined) removeFrom(this.byJti, previousJti, connection);
    const jti = connection.identity?.claims.jti;
    if (jti !== undefined) addTo(this.byJti, jti, connection);
  }

  remove(connection: Connection): void {
    this.all.delete(connection);
    const identity = connection.identity;
    if (identity === undefined) return;
    removeFrom(this.byUser, identity.userId, connection);
    if (identity.claims.jti !== undefined) removeFrom(this.byJti, identity.claims.jti, connection);
  }

  connections(): Connection[] {
    return [...this.all];
  }

  withToken(jti: string): Connection[] {
    return [...(this.byJti.get(jti) ?? [])];
  }

  ofUser(userId: string): Connection[] {
    return [...(this.byUser.get(userId) ?? [])];
  }

  /** Authenticated sockets, for the cluster presence refresh. */
  authenticated(): Connection[] {
    return [...this.byUser.values()].flatMap((set) => [...set]).filter((connection) => connection.registered);
  }

  get size(): number {
    return this.all.size;
  }

  stats(): { connections: number; users: number; usersWithMultipleConnections: number } {
    let connections = 0;
    let usersWithMultipleConnections = 0;
    for (const set of this.byUser.values()) {
      connections += set.size;
      if (set.size > 1) usersWithMultipleConnections += 1;
    }
    return { connections, users: this.byUser.size, usersWithMultipleConnections };
  }
}

function addTo(map: Map<string, Set<Connection>>, key: string, connection: Connection): void {
  let set = map.get(key);
  if (!set) {
    set = new Set();
    map.set(key, set);
  }
  set.add(connection);
}

function removeFrom(map: Map<string, Set<Connection>>, key: string, connection: Connection): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(connection);
  if (set.size === 0) map.delete(key);
}

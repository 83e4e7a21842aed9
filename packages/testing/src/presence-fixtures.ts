/** A connection as the presence store registers it. */
export interface PresenceConnection {
  readonly userId: string;
  readonly connectionId: string;
  readonly node: string;
}

export interface PresenceScene {
  /** In order: `a` on edge-1, `a` on edge-2, `b` on edge-2. */
  readonly connections: readonly [PresenceConnection, PresenceConnection, PresenceConnection];
  /** The cluster statistics (GET /v1/stats, PresenceStore.stats) these connections make. */
  readonly stats: {
    readonly connections: number;
    readonly users: number;
    readonly users_with_multiple_connections: number;
    readonly nodes: readonly { readonly node: string; readonly connections: number; readonly users: number }[];
  };
}

/** Two users on two edges, one of them on both: the smallest cluster where every statistic counts something. */
export function twoUsersOnTwoEdges(a: string, b: string): PresenceScene {
  return {
    connections: [
      { userId: a, connectionId: `${a}-1`, node: "edge-1" },
      { userId: a, connectionId: `${a}-2`, node: "edge-2" },
      { userId: b, connectionId: `${b}-1`, node: "edge-2" },
    ],
    stats: {
      connections: 3,
      users: 2,
      users_with_multiple_connections: 1,
      nodes: [
        { node: "edge-1", connections: 1, users: 1 },
        { node: "edge-2", connections: 2, users: 2 },
      ],
    },
  };
}

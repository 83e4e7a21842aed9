import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import * as schema from "./schema";

export interface Database {
  readonly db: PostgresJsDatabase<typeof schema>;
  readonly sql: postgres.Sql<{ bigint: number }>;
  /** Ends the pool, letting running queries finish for up to 5 s. Safe to call twice. */
  close(): Promise<void>;
  /** Resolves when the database answers a trivial query (readiness checks). */
  ping(): Promise<void>;
}

/** A Drizzle transaction handle, as passed to `db.transaction(async (tx) => ...)`. */
export type Tx = Parameters<Parameters<Database["db"]["transaction"]>[0]>[0];
/** Either the database or a transaction: repositories and writers accept both, so their callers choose the boundary. */
export type Executor = Database["db"] | Tx;

export interface CreateDbOptions {
  /** Pool size; defaults to 10. */
  readonly max?: number;
  /** Receives server notices; they are dropped by default. */
  readonly onnotice?: (notice: postgres.Notice) => void;
}

const INT8_OID = 20;

/** int8 (counts, outbox ids) as a plain number; a value past 2^53 fails its query rather than lose digits. */
const bigintAsNumber: postgres.PostgresType<number> = {
  to: INT8_OID,
  from: [INT8_OID],
  serialize: (value: number) => String(value),
  parse: (raw: string) => {
    const value = Number(raw);
    if (!Number.isSafeInteger(value)) throw new RangeError(`int8 value ${raw} is beyond Number.MAX_SAFE_INTEGER`);
    return value;
  },
};

type Client = postgres.Sql<{ bigint: number }>;
type TransactionClient = postgres.TransactionSql<{ bigint: number }>;

/**
 * drizzle's postgres.js session runs each query as `unsafe(text, params, { prepare: false })` unless it was built
 * with `.prepare(name)` (drizzle-orm#6096), overriding the client's `prepare: true`; postgres.js then describes
 * every parameterised statement in a round trip of its own before running it. This view of the client (and of
 * each transaction's) prepares instead: a named statement per distinct SQL text and connection, so from its
 * second use on a query is one round trip and no parse.
 */
function preparing<T extends Client | TransactionClient>(client: T): T {
  return new Proxy(client, {
    get(target, key, receiver) {
      if (key === "unsafe") {
        const unsafe: Client["unsafe"] = (query, params, queryOptions) => target.unsafe(query, params, { ...queryOptions, prepare: true });
        return unsafe;
      }
      if (key === "begin") {
        return (...args: unknown[]) => {
          const fn = args.pop() as (tx: TransactionClient) => unknown;
          return (target as Client).begin(...(args as [string]), (tx) => fn(preparing(tx)));
        };
      }
      if (key === "savepoint") {
        return (...args: unknown[]) => {
          const fn = args.pop() as (tx: TransactionClient) => unknown;
          return (target as TransactionClient).savepoint(...(args as [string]), (tx) => fn(preparing(tx)));
        };
      }
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
}

export function createDb(databaseUrl: string, options: CreateDbOptions = {}): Database {
  const sql = postgres(databaseUrl, {
    max: options.max ?? 10,
    prepare: true,
    onnotice: options.onnotice ?? (() => undefined),
    types: { bigint: bigintAsNumber },
  });
  const db = drizzle(preparing(sql), { schema });
  let closing: Promise<void> | undefined;
  return {
    db,
    sql,
    close() {
      closing ??= sql.end({ timeout: 5 });
      return closing;
    },
    async ping() {
      await sql`SELECT 1`;
    },
  };
}

import { startAppProcess, type AppProcess, type AppProcessOptions } from "./app-process";
import { createTestDatabase, type TestDatabase, type TestDatabaseOptions } from "./databases";
import { createTestRedis, type TestRedis, type TestRedisOptions } from "./redis";

/**
 * A test file's own PostgreSQL database and Redis key prefix, and what a harness started on them (API processes,
 * nodes, clients): `close()` stops those first, the last started first (app processes started one after another
 * stop together, as they are independent), then drops the database and the prefix.
 */
export class TestStores {
  private readonly stops: { readonly stop: () => Promise<unknown>; readonly together: boolean }[] = [];

  private constructor(
    readonly database: TestDatabase,
    readonly redis: TestRedis,
  ) {}

  /**
   * A database (cloned from the migrated template when `database.migrate` is given) and a prefix named after `label`
   * (on a Redis Cluster when `redis` asks for one).
   */
  static async create(label: string, database: TestDatabaseOptions, redis: TestRedisOptions = {}): Promise<TestStores> {
    const [db, prefix] = await Promise.all([createTestDatabase(database), createTestRedis(label, redis)]);
    return new TestStores(db, prefix);
  }

  /** What `build` makes on these stores; when it throws, the stores are closed before the error goes on. */
  async closedOnFailure<T>(build: () => Promise<T>): Promise<T> {
    try {
      return await build();
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  /** Starts an app as a child process (startAppProcess), stopped on close: SIGTERM, SIGKILL after 5 s. */
  async startApp(options: AppProcessOptions): Promise<AppProcess> {
    return this.started(await startAppProcess(options), (node) => node.stop("SIGTERM", 5_000), { together: true });
  }

  /**
   * Returns `resource`, to be stopped with `stop` when the stores close. `together`: it may stop at the same time as
   * the other `together` resources started right before or after it (independent processes, each draining on its own).
   */
  started<T>(resource: T, stop: (resource: T) => unknown, options: { readonly together?: boolean } = {}): T {
    this.stops.push({
      stop: async () => {
        await stop(resource);
      },
      together: options.together === true,
    });
    return resource;
  }

  /** Stops what was started (every stop runs; the first failure is thrown at the end), then drops the stores. */
  async close(): Promise<void> {
    const failures: unknown[] = [];
    const pending = this.stops.splice(0).reverse();
    while (pending.length > 0) {
      // A run of `together` resources stops at once; anything else stops alone, in reverse order.
      const alone = pending.findIndex((entry) => !entry.together);
      const run = pending.splice(0, alone === -1 ? pending.length : Math.max(alone, 1));
      const outcomes = await Promise.allSettled(run.map((entry) => entry.stop()));
      for (const outcome of outcomes) if (outcome.status === "rejected") failures.push(outcome.reason);
    }
    await this.database.drop();
    await this.redis.cleanup();
    if (failures.length > 0) throw failures[0];
  }
}

/** A harness on a test file's own stores (a cluster, worker nodes): their database and Redis prefix, and its end. */
export abstract class StoresHarness {
  protected constructor(protected readonly stores: TestStores) {}

  get database(): TestDatabase {
    return this.stores.database;
  }

  get redis(): TestRedis {
    return this.stores.redis;
  }

  /** Stops what was started on the stores (the last started first), then drops them. */
  close(): Promise<void> {
    return this.stores.close();
  }
}

import { createTestDatabase, type TestDatabase, type TestDatabaseOptions } from "./databases";
import { createTestRedis, type TestRedis } from "./redis";

/**
 * A test file's own PostgreSQL database and Redis key prefix, and what a harness started on them (API processes,
 * nodes, clients): `close()` stops those first, the last started first, then drops the database and the prefix.
 */
export class TestStores {
  private readonly stops: (() => Promise<unknown>)[] = [];

  private constructor(
    readonly database: TestDatabase,
    readonly redis: TestRedis,
  ) {}

  /** A database (cloned from the migrated template when `database.migrate` is given) and a prefix named after `label`. */
  static async create(label: string, database: TestDatabaseOptions): Promise<TestStores> {
    const [db, redis] = await Promise.all([createTestDatabase(database), createTestRedis(label)]);
    return new TestStores(db, redis);
  }

  /** Returns `resource`, to be stopped with `stop` when the stores close. */
  started<T>(resource: T, stop: (resource: T) => unknown): T {
    this.stops.push(async () => {
      await stop(resource);
    });
    return resource;
  }

  /** Stops what was started (every stop runs; the first failure is thrown at the end), then drops the stores. */
  async close(): Promise<void> {
    const failures: unknown[] = [];
    for (const stop of this.stops.splice(0).reverse()) await stop().catch((error: unknown) => failures.push(error));
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

/**
 * Where the client keeps what must survive a reload: the last stream position, each conversation's last seq, and the
 * outbox. The Web Storage interface, so `window.localStorage` fits as is.
 */
export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** Storage that lives as long as the process (the default; Node, tests). */
export function memoryStorage(): KeyValueStorage {
  const items = new Map<string, string>();
  return {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => {
      items.set(key, value);
    },
    removeItem: (key) => {
      items.delete(key);
    },
  };
}

/** The browser's localStorage, or memory where there is none (Node, private modes that refuse it). */
export function browserStorage(): KeyValueStorage {
  try {
    const storage = (globalThis as { localStorage?: KeyValueStorage }).localStorage;
    if (storage !== undefined) {
      const probe = "parley:probe";
      storage.setItem(probe, "1");
      storage.removeItem(probe);
      return storage;
    }
  } catch {
    // Refused (quota, privacy settings): fall through to memory.
  }
  return memoryStorage();
}

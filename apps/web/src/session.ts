import { ParleyRequestError, RestClient, type RestResponse } from "@parley/sdk";
import { Store } from "./store";

export type Me = RestResponse<"getMe">;

/** The signed-in user and their token, kept in localStorage so a reload (or an e-mailed link) stays signed in. */
interface SavedSession {
  readonly token: string;
  readonly user: Me;
}

const SESSION_KEY = "parley.session";

function readSaved(): SavedSession | undefined {
  try {
    const text = localStorage.getItem(SESSION_KEY);
    if (text === null) return undefined;
    const value = JSON.parse(text) as unknown;
    if (typeof value !== "object" || value === null) return undefined;
    const { token, user } = value as Record<string, unknown>;
    if (typeof token !== "string" || typeof user !== "object" || user === null) return undefined;
    return { token, user: user as Me };
  } catch {
    return undefined;
  }
}

function writeSaved(saved: SavedSession | undefined): void {
  try {
    if (saved === undefined) localStorage.removeItem(SESSION_KEY);
    else localStorage.setItem(SESSION_KEY, JSON.stringify(saved));
  } catch {
    // storage refused: the session lasts as long as the page
  }
}

/** Who is signed in, and the REST client that carries their token. */
export class Session {
  readonly user: Store<Me | undefined>;
  readonly rest: RestClient;
  private token: string | undefined;

  constructor(readonly apiUrl: string) {
    const saved = readSaved();
    this.token = saved?.token;
    this.user = new Store<Me | undefined>(saved?.user);
    this.rest = new RestClient({
      baseUrl: apiUrl,
      token: () => this.token,
      // The server refused the saved token (expired or revoked): sign out, which shows the login page.
      onUnauthorized: () => {
        this.forget();
        return Promise.resolve(undefined);
      },
    });
  }

  /** The current access token (the realtime client asks for it before every connect). */
  currentToken(): string | undefined {
    return this.token;
  }

  async login(username: string, password: string): Promise<void> {
    const answer = await this.rest.api.login({ body: { username, password } });
    await this.adopt(answer.access_token);
  }

  async signUp(fields: { username: string; password: string; display_name: string; role: string; email?: string }): Promise<void> {
    const answer = await this.rest.api.register({ body: fields });
    await this.adopt(answer.access_token);
  }

  /** Re-reads the caller (after a settings change elsewhere); signs out when the token is no longer valid. */
  async refreshMe(): Promise<void> {
    if (this.token === undefined) return;
    try {
      this.setUser(await this.rest.api.getMe());
    } catch (error) {
      if (error instanceof ParleyRequestError && error.status === 401) this.forget();
      else throw error;
    }
  }

  setUser(user: Me): void {
    if (this.token === undefined) return;
    writeSaved({ token: this.token, user });
    this.user.set(user);
  }

  async logout(): Promise<void> {
    try {
      await this.rest.api.logout();
    } catch {
      // the token is forgotten here either way; the server lets it expire
    }
    this.forget();
  }

  /** Drops the token and user without asking the server (it already refused the token). */
  forget(): void {
    this.token = undefined;
    writeSaved(undefined);
    this.user.set(undefined);
  }

  private async adopt(token: string): Promise<void> {
    this.token = token;
    const user = await this.rest.api.getMe();
    writeSaved({ token, user });
    this.user.set(user);
  }
}

// The KRT access token: obtained once, stored where every instance sees it, refreshed before it
// expires and after a 401, by ONE refresh however many calls ask for it at once.

export interface KrtToken {
  readonly accessToken: string;
  /** Epoch ms. */
  readonly expiresAt: number;
}

/** Where instances share the token (Postgres in production, memory in unit tests). */
export interface TokenStore {
  /**
   * Under a lock every instance takes: returns the stored token when it is not `stale` and stays
   * valid past `freshUntil`; otherwise calls `obtain`, stores its token and returns it. So when
   * several instances refresh at once, only the first one asks KRT.
   */
  replace(stale: string | undefined, freshUntil: number, obtain: () => Promise<KrtToken>): Promise<KrtToken>;
}

export function memoryTokenStore(): TokenStore {
  let stored: KrtToken | undefined;
  let lock: Promise<unknown> = Promise.resolve();
  return {
    replace(stale, freshUntil, obtain) {
      const run = lock.then(async () => {
        if (stored && stored.accessToken !== stale && stored.expiresAt > freshUntil) return stored;
        stored = await obtain();
        return stored;
      });
      lock = run.catch(() => {});
      return run;
    },
  };
}

/**
 * This instance's view of the token. `get` answers from memory while the token has more than
 * `marginMs` left; inside the margin it still answers at once and refreshes in the background;
 * past expiry callers wait for the refresh. Concurrent refreshes share one promise.
 */
export class KrtTokens {
  #current: KrtToken | undefined;
  #refreshing: Promise<KrtToken> | undefined;

  constructor(
    private readonly store: TokenStore,
    private readonly obtain: () => Promise<KrtToken>,
    private readonly options: { marginMs: number; now: () => number },
  ) {}

  async get(): Promise<string> {
    const now = this.options.now();
    const current = this.#current;
    if (current && now < current.expiresAt - this.options.marginMs) return current.accessToken;
    if (current && now < current.expiresAt) {
      this.#refresh(current.accessToken).catch(() => {}); // a failed early refresh is retried by the next call
      return current.accessToken;
    }
    return (await this.#refresh(current?.accessToken)).accessToken;
  }

  /** After KRT answered 401 to `rejected`: a newer token if someone already got one, else a refresh. */
  async renew(rejected: string): Promise<string> {
    const current = this.#current;
    if (current && current.accessToken !== rejected && this.options.now() < current.expiresAt) return current.accessToken;
    return (await this.#refresh(rejected)).accessToken;
  }

  #refresh(stale: string | undefined): Promise<KrtToken> {
    this.#refreshing ??= this.store
      .replace(stale, this.options.now() + this.options.marginMs, this.obtain)
      .then((token) => (this.#current = token))
      .finally(() => (this.#refreshing = undefined));
    return this.#refreshing;
  }
}

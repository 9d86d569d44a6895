// The KRT token store of production: the token in its `krt_tokens` row, where every instance
// finds it, refreshed under the row's lock (storage/driverStatusRepository.ts).
import type { KrtToken, TokenStore } from "../../integrations/krt/index.ts";
import { lockedKrtToken, type KrtTokenRow } from "../../storage/driverStatusRepository.ts";
import type { Sql } from "../../storage/database.ts";

const toToken = (row: KrtTokenRow): KrtToken => ({ accessToken: row.access_token, expiresAt: row.expires_at.getTime() });

/**
 * Instances refreshing at once queue on the row's lock, and all but the first find a fresh token
 * there and use it.
 * @example new KrtClient({ ..., tokens: postgresTokenStore(db.sql) })
 */
export function postgresTokenStore(sql: Sql, name = "krt"): TokenStore {
  return {
    replace: async (stale, freshUntil, obtain) => {
      let obtained: KrtToken | undefined;
      const kept = await lockedKrtToken(sql, name, async (stored) => {
        if (stored && stored.access_token !== stale && stored.expires_at.getTime() > freshUntil) return stored;
        obtained = await obtain();
        return { access_token: obtained.accessToken, expires_at: new Date(obtained.expiresAt) };
      });
      return obtained ?? toToken(kept);
    },
  };
}

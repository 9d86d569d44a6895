// The KRT token store of production: the token in its `krt_tokens` row, where every instance
// finds it, refreshed by the one instance holding the row's refresh claim (a lease, so no lock or
// transaction is held while KRT is called; storage/driverStatusRepository.ts).
import { randomUUID } from "node:crypto";
import type { KrtToken, TokenStore } from "../../integrations/krt/index.ts";
import { claimKrtTokenRefresh, readKrtToken, releaseKrtTokenClaim, storeKrtToken, type KrtTokenRow } from "../../storage/driverStatusRepository.ts";
import type { Sql } from "../../storage/database.ts";

export interface TokenStoreOptions {
  /** Row name; one per KRT client. */
  readonly name?: string;
  /** How long a refresh claim lasts: longer than a token call takes, retries included. */
  readonly leaseMs?: number;
  /** How often an instance waiting for another's refresh looks for its token. */
  readonly pollMs?: number;
}

const toToken = (row: KrtTokenRow): KrtToken => ({ accessToken: row.access_token, expiresAt: row.expires_at.getTime() });

/**
 * Instances refreshing at once: one claims the refresh and asks KRT, the others poll the row until
 * its token arrives (or the claim's lease runs out, when the claimer died, and one of them claims).
 * @example new KrtClient({ ..., tokens: postgresTokenStore(db.sql) })
 */
export function postgresTokenStore(sql: Sql, options: TokenStoreOptions = {}): TokenStore {
  const { name = "krt", leaseMs = 30_000, pollMs = 100 } = options;
  return {
    replace: async (stale, freshUntil, obtain) => {
      const usable = (row: KrtTokenRow | null): row is KrtTokenRow => row !== null && row.access_token !== stale && row.expires_at.getTime() > freshUntil;
      for (;;) {
        const stored = await readKrtToken(sql, name);
        if (usable(stored)) return toToken(stored);
        const claim = randomUUID();
        if (await claimKrtTokenRefresh(sql, name, claim, leaseMs)) {
          try {
            // The previous claimer may have stored a fresh token between the read and the claim.
            const latest = await readKrtToken(sql, name);
            if (usable(latest)) {
              await releaseKrtTokenClaim(sql, name, claim);
              return toToken(latest);
            }
            const obtained = await obtain();
            await storeKrtToken(sql, name, claim, { access_token: obtained.accessToken, expires_at: new Date(obtained.expiresAt) });
            return obtained;
          } catch (error) {
            await releaseKrtTokenClaim(sql, name, claim).catch(() => {});
            throw error;
          }
        }
        await new Promise((resolve) => setTimeout(resolve, pollMs));
      }
    },
  };
}

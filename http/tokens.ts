// Bearer tokens to roles, compared in constant time: each presented token is hashed to a
// fixed-length digest and checked against every configured digest, with no early exit, so neither
// the length nor the prefix of a configured token leaks through response times.
import { createHash, timingSafeEqual } from "node:crypto";
import type { Role } from "../config.ts";

/** The token of an `Authorization: Bearer <token>` header, or "" when there is none. */
export const bearerToken = (req: { headers: Record<string, string | undefined> }): string => {
  const header = req.headers.authorization ?? "";
  return header.startsWith("Bearer ") ? header.slice(7).trim() : "";
};

const digest = (token: string) => createHash("sha256").update(token).digest();

export class TokenRoles {
  readonly #entries: { role: Role; digest: Buffer }[];
  /**
   * Tokens already matched, so that a caller's every request does not pay a SHA-256 (a few µs).
   * Only configured tokens enter it (it never outgrows the configuration); an unknown token takes
   * the hashing path every time. The lookup hashes the presented string and compares contents only
   * on a full hash match, so it tells a guesser nothing about a configured token's prefix.
   */
  readonly #known = new Map<string, Role>();

  /** @example new TokenRoles(new Map([["fleet", ["current", "previous"]]])) */
  constructor(tokens: ReadonlyMap<Role, readonly string[]>) {
    this.#entries = [...tokens].flatMap(([role, list]) => list.map((token) => ({ role, digest: digest(token) })));
  }

  /** The role a token belongs to, or undefined for an unknown one. */
  roleOf(token: string): Role | undefined {
    const known = this.#known.get(token);
    if (known !== undefined) return known;
    const presented = digest(token);
    let found: Role | undefined;
    for (const entry of this.#entries) if (timingSafeEqual(entry.digest, presented) && found === undefined) found = entry.role;
    if (found !== undefined) this.#known.set(token, found);
    return found;
  }
}

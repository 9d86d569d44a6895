// Bearer tokens to roles: what a caller presents maps to the same role on every request, whether
// or not it was seen before, and an unknown token never becomes known by being presented.
import { describe, expect, it } from "vitest";
import { TokenRoles } from "../../http/tokens.ts";

const tokens = () =>
  new TokenRoles(
    new Map([
      ["fleet", ["fleet-current", "fleet-previous"]],
      ["admin", ["admin-token"]],
    ]),
  );

describe("TokenRoles", () => {
  it("maps each configured token to its role on first and repeated use", () => {
    const roles = tokens();
    for (let round = 0; round < 3; round++) {
      expect(roles.roleOf("fleet-current")).toBe("fleet");
      expect(roles.roleOf("fleet-previous")).toBe("fleet");
      expect(roles.roleOf("admin-token")).toBe("admin");
    }
  });

  it("keeps unknown tokens unknown however often they are presented, prefixes and extensions included", () => {
    const roles = tokens();
    expect(roles.roleOf("admin-token")).toBe("admin");
    for (let round = 0; round < 3; round++)
      for (const guess of ["", "admin", "admin-toke", "admin-token ", "admin-tokenx", "ADMIN-TOKEN", "fleet-"]) expect(roles.roleOf(guess)).toBeUndefined();
  });
});

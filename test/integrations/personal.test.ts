import fc from "fast-check";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { noFaults, PartnerRejectedError, PartnerTimeoutError, PartnerUnavailableError } from "../../integrations/index.ts";
import { normalizePhone, PersonalClient, startPersonalSimulator, type PersonalSimulator } from "../../integrations/personal/index.ts";
import { postJson, until } from "./support.ts";

let sim: PersonalSimulator;
let personal: PersonalClient;
beforeAll(async () => {
  sim = await startPersonalSimulator();
  personal = new PersonalClient({ baseUrl: sim.url, timeoutMs: 300, retries: 5, retryBaseMs: 10, maxDelayMs: 50 });
});
afterAll(async () => {
  await sim.close();
});
beforeEach(() => {
  Object.assign(sim.faults, noFaults());
  sim.stats.requests = 0;
});

describe("normalizePhone", () => {
  it("normalizePhone - Russian forms, separators and international numbers become E.164", () => {
    const cases: [string, string][] = [
      ["+79161234567", "+79161234567"],
      ["+7 (916) 123-45-67", "+79161234567"],
      ["8 916 123 45 67", "+79161234567"],
      ["8(916)1234567", "+79161234567"],
      ["7 916 123-45-67", "+79161234567"],
      ["9161234567", "+79161234567"],
      ["  +7.916.123.45.67 ", "+79161234567"],
      ["+44 20 7946 0958", "+442079460958"],
      ["0044 20 7946 0958", "+442079460958"],
      ["+375 29 123-45-67", "+375291234567"],
    ];
    for (const [typed, e164] of cases) expect(normalizePhone(typed), typed).toBe(e164);
  });

  it("normalizePhone - what is not a phone number is refused", () => {
    for (const typed of [
      "",
      "12345",
      "+7 916 123",
      "+7916123456789",
      "89161234567890",
      "+0 123 456 789",
      "phone",
      "+7 916 ABC 45 67",
      "++79161234567",
      "+7-916-123-45-67 ext 5",
      "8 800",
      "1234567890",
    ]) {
      expect(normalizePhone(typed), typed).toBeUndefined();
    }
  });

  it("normalizePhone - every way of typing one Russian mobile gives the same E.164, and E.164 stays as it is", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^9\d{9}$/), (national) => {
        const [a, b, c, d, e] = [national.slice(0, 3), national.slice(3, 6), national.slice(6, 8), national.slice(8, 10), `+7${national}`];
        const forms = [e, `8${national}`, `8 (${a}) ${b}-${c}-${d}`, `+7 ${a} ${b} ${c} ${d}`, national, `7-${a}-${b}-${c}-${d}`];
        for (const form of forms) expect(normalizePhone(form)).toBe(e);
        expect(normalizePhone(normalizePhone(forms[2]!)!)).toBe(e);
      }),
    );
  });
});

describe("personal", () => {
  it("store - the same value always gets the same id, kinds have separate ids, retrieve gives the value back", async () => {
    const id = await personal.store("phones", "+79161234567");
    expect(await personal.store("phones", "+79161234567")).toBe(id);
    const nameId = await personal.store("names", "Анна");
    expect(nameId).not.toBe(id);
    expect(await personal.retrieve("phones", id)).toBe("+79161234567");
    expect(await personal.retrieve("names", nameId)).toBe("Анна");
    expect(await personal.retrieve("names", id)).toBeUndefined();
  });

  it("find - a value never stored is absent, and looking it up does not store it", async () => {
    const before = sim.size("phones");
    expect(await personal.find("phones", "+79990000000")).toBeUndefined();
    expect(sim.size("phones")).toBe(before);
    const id = await personal.store("phones", "+79990000000");
    expect(await personal.find("phones", "+79990000000")).toBe(id);
  });

  it("bulkRetrieve - values of known ids, unknown ids left out", async () => {
    const a = await personal.store("names", "A");
    const b = await personal.store("names", "B");
    expect(await personal.bulkRetrieve("names", [a, "nope", b, a])).toEqual(
      new Map([
        [a, "A"],
        [b, "B"],
      ]),
    );
  });

  it("store - a phone not in E.164 is rejected with 400 that does not echo it, and not retried", async () => {
    const error = await personal.store("phones", "8 916 123 45 67").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PartnerRejectedError);
    expect(error).toMatchObject({ code: "personal_rejected", status: 400, body: { code: "invalid_phone" } });
    expect(JSON.stringify((error as PartnerRejectedError).body)).not.toContain("916");
    expect(String(error)).not.toContain("916");
    expect(sim.stats.requests).toBe(1);
  });

  it("down - after the retries the client fails with personal_unavailable; a short outage is ridden out", async () => {
    sim.faults.down = true;
    const error = await personal.store("phones", "+79161234500").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PartnerUnavailableError);
    expect((error as PartnerUnavailableError).code).toBe("personal_unavailable");
    expect(String(error)).not.toContain("79161234500");
    expect(sim.stats.requests).toBe(6);

    sim.stats.requests = 0;
    const pending = personal.find("phones", "+79161234567");
    await until(() => sim.stats.requests >= 2);
    sim.faults.down = false;
    expect(await pending).toBe(await personal.store("phones", "+79161234567"));
  });

  it("slow - an answer later than the timeout is personal_timeout", async () => {
    sim.faults.slowMs = 1_000;
    const quick = new PersonalClient({ baseUrl: sim.url, timeoutMs: 50, retries: 0 });
    const error = await quick.retrieve("phones", "x").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PartnerTimeoutError);
    expect((error as PartnerTimeoutError).code).toBe("personal_timeout");
  });

  it("preload - fixtures registered in process or over HTTP are found under their ids", async () => {
    expect(sim.preload("phones", "+79001112233", "pd-fixed-1")).toBe("pd-fixed-1");
    const res = await postJson(`${sim.url}/__personal/preload`, { kind: "names", items: [{ value: "Fixture", id: "pd-name-fixed" }] });
    expect(res).toEqual({ status: 200, json: { items: [{ id: "pd-name-fixed" }] } });
    expect(await personal.find("phones", "+79001112233")).toBe("pd-fixed-1");
    expect(await personal.retrieve("names", "pd-name-fixed")).toBe("Fixture");
  });

  it("store - a burst of stores shares a few bulk calls; each value gets its own id, equal values one id", async () => {
    const phones = Array.from({ length: 200 }, (_, i) => `+7916${String(3_000_000 + i).padStart(7, "0")}`);
    const ids = await Promise.all([...phones, ...phones.slice(0, 20)].map((phone) => personal.store("phones", phone)));
    expect(sim.stats.requests).toBeLessThanOrEqual(10);
    expect(ids.slice(200)).toEqual(ids.slice(0, 20));
    expect(new Set(ids.slice(0, 200)).size).toBe(200);
    for (const [i, phone] of phones.entries()) expect(sim.preload("phones", phone)).toBe(ids[i]);
  });

  it("store - a refused value in a burst fails alone; the others of its batch are stored", async () => {
    const good = Array.from({ length: 30 }, (_, i) => `+7916${String(4_000_000 + i).padStart(7, "0")}`);
    const results = await Promise.allSettled([...good, "8 916 400 00 99"].map((phone) => personal.store("phones", phone)));
    const refused = results.at(-1)!;
    expect(refused).toMatchObject({ status: "rejected", reason: { code: "personal_rejected", status: 400 } });
    expect(String((refused as PromiseRejectedResult).reason)).not.toContain("916");
    for (const [i, phone] of good.entries()) expect(results[i]).toEqual({ status: "fulfilled", value: sim.preload("phones", phone) });
  });

  it("store - personal down fails every store of the batch, and the next burst is served once it is back", async () => {
    sim.faults.down = true;
    const down = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => personal.store("names", `Down ${i}`)));
    expect(down.every((r) => r.status === "rejected" && (r.reason as PartnerUnavailableError).code === "personal_unavailable")).toBe(true);
    sim.faults.down = false;
    const ids = await Promise.all(Array.from({ length: 12 }, (_, i) => personal.store("names", `Down ${i}`)));
    expect(await personal.bulkRetrieve("names", ids)).toEqual(new Map(ids.map((id, i) => [id, `Down ${i}`])));
  });

  it("the simulator answers 404 for a kind of data personal does not keep", async () => {
    const res = await postJson(`${sim.url}/v1/passports/store`, { value: "x" });
    expect(res).toMatchObject({ status: 404, json: { code: "unknown_kind" } });
  });
});

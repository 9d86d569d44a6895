// A broker like Yandex IoT Core: TLS (a Mosquitto of the test's own with certificates the test
// made with openssl), and either a client certificate or a username and password. The instance
// and the simulated cabinets connect with the same options; a broker the configured CA does not
// vouch for, or a refused login, leaves the cabinets' dependency down with the reason, never
// a plaintext fallback.
import { readFileSync } from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeCertificates, type TestCertificates } from "../support/certificates.ts";
import { eventually } from "../support/harness.ts";
import { TOKENS } from "../support/instance.ts";
import { cabinetSpec, startCabinetHarness, type CabinetHarness } from "./cabinets.support.ts";

let certs: TestCertificates;
beforeAll(() => {
  certs = makeCertificates();
});
afterAll(() => certs?.close());

const tlsListener = (extra: string[]) => [`cafile ${certs.ca}`, `certfile ${certs.serverCert}`, `keyfile ${certs.serverKey}`, ...extra];

/** Registers a cabinet, books one accumulator and opens it: the whole MQTT round trip. */
async function roundTrip(h: CabinetHarness, id: string) {
  await h.cabinet(cabinetSpec(id, { cells: 4, charged: 2 }));
  const booking = await h.book(id, { kind: "issue", count: 1, contractor_id: "tech-tls" });
  expect(booking.status).toBe(201);
  const open = await h.open(id, booking.body.booking_id);
  expect(open.status).toBe(200);
  expect(open.body.cells).toEqual([{ cell: 1, accumulator_id: `${id}-A1` }]);
  expect((await h.app.call("GET", "/ready", { token: TOKENS.admin })).body.services.cabinets).toEqual({ mqtt: "ok" });
}

/** The cabinets' MQTT state in /ready once it says down; /ready itself stays 200. */
async function mqttDown(h: CabinetHarness): Promise<string> {
  const ready = await eventually(async () => {
    const r = await h.app.call("GET", "/ready", { token: TOKENS.admin });
    return r.body.services.cabinets.mqtt.startsWith("down: ") ? r : undefined;
  });
  expect(ready.status).toBe(200);
  return ready.body.services.cabinets.mqtt;
}

describe("cabinets over TLS: client certificate", () => {
  let h: CabinetHarness | undefined;
  afterAll(async () => h?.close());

  it("a broker that requires a client certificate: the instance and the cabinets connect with theirs and a booking opens", async () => {
    const deviceAuth = { ca: readFileSync(certs.ca), cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) };
    h = await startCabinetHarness(
      { MQTT_CA_FILE: certs.ca, MQTT_CERT_FILE: certs.clientCert, MQTT_KEY_FILE: certs.clientKey },
      { broker: { scheme: "mqtts", listener: tlsListener(["require_certificate true"]) }, deviceAuth },
    );
    expect(h.env.MQTT_URL).toMatch(/^mqtts:\/\//);
    await roundTrip(h, "CAB-CERT");
  }, 60_000);
});

describe("cabinets over TLS: refused", () => {
  let h: CabinetHarness | undefined;
  afterAll(async () => h?.close());

  it("a broker whose certificate the configured CA did not sign: MQTT down naming the certificate, bookings 503 mqtt_unavailable saying why", async () => {
    const deviceAuth = { ca: readFileSync(certs.ca), cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) };
    h = await startCabinetHarness(
      { MQTT_CA_FILE: certs.otherCa, MQTT_CERT_FILE: certs.clientCert, MQTT_KEY_FILE: certs.clientKey },
      { broker: { scheme: "mqtts", listener: tlsListener(["require_certificate true"]) }, deviceAuth },
    );
    expect(await mqttDown(h)).toMatch(/TLS certificate was not accepted/);
    expect((await h.call("PUT", "/cabinets/CAB-CA", { lat: 55.7, lon: 37.6 })).status).toBe(201);
    const booking = await h.book("CAB-CA", { kind: "issue", count: 1, contractor_id: "tech-tls" });
    expect(booking.status).toBe(503);
    expect(booking.body.code).toBe("mqtt_unavailable");
    expect(booking.body.message).toMatch(/TLS certificate was not accepted/);
  }, 60_000);
});

const hasMosquittoPasswd = (() => {
  try {
    execFileSync("mosquitto_passwd", ["-h"], { stdio: "ignore" });
    return true;
  } catch (error) {
    // It prints its usage and exits 1: present. Only "not found" means absent.
    return (error as NodeJS.ErrnoException).code !== "ENOENT";
  }
})();

describe.runIf(hasMosquittoPasswd)("cabinets over TLS: username and password", () => {
  let passwords: string;
  const harnesses: CabinetHarness[] = [];
  beforeAll(() => {
    passwords = path.join(certs.dir, "passwd");
    execFileSync("mosquitto_passwd", ["-b", "-c", passwords, "fleet", "s3cret-fleet"]);
    execFileSync("mosquitto_passwd", ["-b", passwords, "cabinets", "s3cret-cabinets"]);
  });
  afterAll(async () => {
    for (const h of harnesses) await h.close();
  });
  const start = async (password: string) => {
    const h = await startCabinetHarness(
      { MQTT_CA_FILE: certs.ca, MQTT_USERNAME: "fleet", MQTT_PASSWORD: password },
      {
        broker: { scheme: "mqtts", listener: tlsListener(["allow_anonymous false", `password_file ${passwords}`]) },
        deviceAuth: { ca: readFileSync(certs.ca), username: "cabinets", password: "s3cret-cabinets" },
      },
    );
    harnesses.push(h);
    return h;
  };

  it("the right password: the instance and the cabinets log in and a booking opens", async () => {
    await roundTrip(await start("s3cret-fleet"), "CAB-PASS");
  }, 60_000);

  it("a wrong password: MQTT down saying the login was refused, never echoing the password", async () => {
    const h = await start("wrong-password");
    const state = await mqttDown(h);
    expect(state).toMatch(/refused the login/);
    expect(state).not.toContain("wrong-password");
  }, 60_000);
});

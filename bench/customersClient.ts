// The client side of bench:customers, in a process of its own so that the server's CPU and
// event-loop figures are the server's alone: find-by-phone through HTTP against the very same
// lookup as raw SQL (alternately, both from here), the personal exchange alone, then upserts at a
// fixed concurrency, bracketed by messages so the server measures itself over exactly that phase.
import { PersonalClient } from "../integrations/personal/index.ts";
import { findCustomerByPhone } from "../storage/customerRepository.ts";
import { openPostgres } from "../storage/database.ts";
import { Connection, latencyFigures, percentile, progress, round } from "./scenario.ts";

export interface ClientJob {
  port: number;
  personalUrl: string;
  databaseUrl: string;
  schema: string;
  /** Customer numbers to find and update; the first 300 finds are warm-up. */
  picked: number[];
  customers: number;
  parks: number;
  concurrency: number;
  upsertSeconds: number;
  token: string;
}

/** Client to server: `upserts` when ready to start them (answered `go`), then `upserted`, then the figures. */
export type ClientMessage = { kind: "upserts" } | { kind: "upserted" } | { kind: "figures"; figures: Record<string, number> };

export const parkOf = (n: number, parks: number) => `park-${String(n % parks).padStart(4, "0")}`;
export const phoneOf = (n: number) => `+7900${String(n).padStart(7, "0")}`;
/** As a dispatcher types it, so the normaliser is in the measured path. */
const typedPhoneOf = (n: number) => phoneOf(n).replace(/^\+7(\d{3})(\d{3})(\d{2})(\d{2})$/, "8 ($1) $2-$3-$4");

async function run(job: ClientJob, send: (m: ClientMessage) => void, go: Promise<void>): Promise<void> {
  const db = await openPostgres({ url: job.databaseUrl, schema: job.schema, max: 1 });
  const call = async (connection: Connection, method: string, path: string, n: number, body: unknown): Promise<number> => {
    const payload = JSON.stringify(body);
    const head =
      `${method} ${path} HTTP/1.1\r\nhost: 127.0.0.1:${job.port}\r\nauthorization: Bearer ${job.token}\r\nx-park-id: ${parkOf(n, job.parks)}\r\n` +
      `x-yandex-uid: 1001\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(payload)}\r\n\r\n`;
    const answer = await connection.request(head, payload);
    if (answer instanceof Error) throw answer;
    return answer.status;
  };

  // Alternating, so both see the same machine state; the first 300 are warm-up.
  const viaHttp: number[] = [];
  const viaSql: number[] = [];
  let findErrors = 0;
  const finder = new Connection("127.0.0.1", job.port);
  for (const [i, n] of job.picked.entries()) {
    let t = performance.now();
    const status = await call(finder, "POST", "/fleet/customers/v1/customers/find", n, { phone: typedPhoneOf(n) });
    const httpMs = performance.now() - t;
    if (status !== 200) findErrors++;
    t = performance.now();
    const row = await findCustomerByPhone(db.sql, parkOf(n, job.parks), `pd-phone-${n}`);
    const sqlMs = performance.now() - t;
    if (!row) findErrors++;
    if (i >= 300) {
      viaHttp.push(httpMs);
      viaSql.push(sqlMs);
    }
  }
  finder.close();
  viaHttp.sort((a, b) => a - b);
  viaSql.sort((a, b) => a - b);
  progress(
    `find: http p50 ${round(percentile(viaHttp, 50))} p99 ${round(percentile(viaHttp, 99))}; sql p50 ${round(percentile(viaSql, 50))} p99 ${round(percentile(viaSql, 99))}`,
  );

  // The personal exchange alone (what the route adds besides HTTP and SQL).
  const exchange: number[] = [];
  const personal = new PersonalClient({ baseUrl: job.personalUrl, timeoutMs: 2_000, retries: 0 });
  for (const n of job.picked.slice(0, 1000)) {
    const t = performance.now();
    await personal.find("phones", phoneOf(n));
    exchange.push(performance.now() - t);
  }
  exchange.sort((a, b) => a - b);

  // Upserts after orders: half existing customers (a changed SMS flag), half new passengers.
  progress(`upserts: ${job.concurrency} in flight for ${job.upsertSeconds} s...`);
  // Connected only now: a connection idle for 10 s is closed (its own timeout, and the server's).
  const pool = Array.from({ length: job.concurrency }, () => new Connection("127.0.0.1", job.port));
  send({ kind: "upserts" });
  await go;
  let upserts = 0;
  let upsertErrors = 0;
  let fresh = job.customers;
  const upsertLatency: number[] = [];
  const started = performance.now();
  const until = started + job.upsertSeconds * 1000;
  await Promise.all(
    pool.map(async (connection, w) => {
      for (let k = 0; performance.now() < until; k++) {
        const n = k % 2 === 0 ? job.picked[(w * 7919 + k) % job.picked.length]! : ++fresh;
        const t = performance.now();
        const status = await call(connection, "PUT", "/fleet/customers/v1/customers", n, {
          phone: phoneOf(n),
          sms_enabled: (k & 2) === 0,
          name: `Passenger ${n}`,
        });
        upsertLatency.push(performance.now() - t);
        if (status === 200 || status === 201) upserts++;
        else upsertErrors++;
      }
    }),
  );
  const upsertSeconds = (performance.now() - started) / 1000;
  send({ kind: "upserted" });
  upsertLatency.sort((a, b) => a - b);
  for (const c of pool) c.close();
  await db.close();

  send({
    kind: "figures",
    figures: {
      samples: viaHttp.length,
      ...latencyFigures("find", viaHttp),
      ...latencyFigures("raw_sql", viaSql),
      p50_ratio: round(percentile(viaHttp, 50) / percentile(viaSql, 50), 2),
      p99_ratio: round(percentile(viaHttp, 99) / percentile(viaSql, 99), 2),
      personal_find_p50_ms: round(percentile(exchange, 50)),
      find_errors: findErrors,
      upserts,
      upserts_per_s: Math.round(upserts / upsertSeconds),
      ...latencyFigures("upsert", upsertLatency),
      upsert_concurrency: job.concurrency,
      upsert_errors: upsertErrors,
    },
  });
}

if (process.argv.includes("--customers-client") && process.send) {
  const send = (m: ClientMessage) => void process.send!(m);
  let started: () => void = () => {};
  const go = new Promise<void>((resolve) => (started = resolve));
  process.on("message", (m: { kind: "job"; job: ClientJob } | { kind: "go" }) => {
    if (m.kind === "go") started();
    else void run(m.job, send, go).then(() => process.disconnect());
  });
}

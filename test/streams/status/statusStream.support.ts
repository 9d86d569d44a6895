// A private JetStream namespace per suite (stream, subject, consumer, dead letters) on the shared
// NATS, and a publisher of driver statuses into it.
import { randomBytes } from "node:crypto";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamClient } from "@nats-io/jetstream";
import type { StatusStreamNames } from "../../../streams/status/statusSource.ts";

export const NATS_URL = process.env.TEST_NATS_URL ?? "nats://127.0.0.1:4222";

export interface StatusNamespace {
  env: Record<string, string>;
  /** The same names, as the status consumer takes them. */
  names: StatusStreamNames;
  subject: string;
  deadLetterStream: string;
  nc: NatsConnection;
  js: JetStreamClient;
  publish(status: { park_id: string; driver_id: string; status: string; updated_at: number | string }): Promise<void>;
  publishRaw(data: string): Promise<void>;
  /** True once the durable consumer has delivered and seen acknowledged every status. */
  consumerDrained(): Promise<boolean>;
  /** The dead letters written so far. */
  deadLetters(): Promise<{ reason: string; data?: string; stream_seq: number; detail?: unknown }[]>;
  close(): Promise<void>;
}

export async function statusNamespace(natsUrl = NATS_URL): Promise<StatusNamespace> {
  const tag = randomBytes(4).toString("hex");
  const names = {
    STATUS_STREAM: `T_${tag}`,
    STATUS_SUBJECT: `t${tag}.statuses.events`,
    STATUS_CONSUMER: `krt-${tag}`,
    STATUS_DEAD_LETTER_STREAM: `T_${tag}_DEAD`,
    STATUS_DEAD_LETTER_SUBJECT: `t${tag}.statuses.dead`,
  };
  const nc = await connect({ servers: natsUrl });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  // Made here (not only by the service) so statuses published before the consumer starts are kept.
  await jsm.streams.add({ name: names.STATUS_STREAM, subjects: [names.STATUS_SUBJECT] });
  return {
    env: { STATUS_NATS_URL: natsUrl, ...names },
    names: {
      stream: names.STATUS_STREAM,
      subject: names.STATUS_SUBJECT,
      consumer: names.STATUS_CONSUMER,
      deadLetterStream: names.STATUS_DEAD_LETTER_STREAM,
      deadLetterSubject: names.STATUS_DEAD_LETTER_SUBJECT,
    },
    subject: names.STATUS_SUBJECT,
    deadLetterStream: names.STATUS_DEAD_LETTER_STREAM,
    nc,
    js,
    publish: async (s) => {
      const updated_at = typeof s.updated_at === "number" ? new Date(s.updated_at).toISOString() : s.updated_at;
      await js.publish(names.STATUS_SUBJECT, JSON.stringify({ ...s, updated_at }));
    },
    publishRaw: async (data) => void (await js.publish(names.STATUS_SUBJECT, data)),
    consumerDrained: async () => {
      const info = await jsm.consumers.info(names.STATUS_STREAM, names.STATUS_CONSUMER).catch(() => undefined);
      return info !== undefined && info.num_pending === 0 && info.num_ack_pending === 0;
    },
    deadLetters: async () => {
      const info = await jsm.streams.info(names.STATUS_DEAD_LETTER_STREAM).catch(() => undefined);
      const letters: { reason: string; data: string; stream_seq: number }[] = [];
      for (let seq = info?.state.first_seq ?? 1; info && seq <= info.state.last_seq; seq++) {
        const m = await jsm.streams.getMessage(names.STATUS_DEAD_LETTER_STREAM, { seq }).catch(() => undefined);
        if (m) letters.push(m.json());
      }
      return letters;
    },
    close: async () => {
      for (const stream of [names.STATUS_STREAM, names.STATUS_DEAD_LETTER_STREAM]) await jsm.streams.delete(stream).catch(() => {});
      await nc.close();
    },
  };
}

/** The value of one `fleet_status_events_total{outcome}` in a /metrics text. */
export function outcomeCount(metrics: string, outcome: string): number {
  return metricValue(metrics, `fleet_status_events_total{outcome="${outcome}"}`) ?? 0;
}

/** The value of one series (`name` or `name{labels}` as Prometheus prints it); undefined when absent. */
export function metricValue(metrics: string, series: string): number | undefined {
  const line = metrics.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

// How envelopes reach the instance hosting an actor, and how public events leave.
// In-process for embedded mode; NATS (`fleet.actors.<shard>.<type>.<id>`) for a cluster.
import type { Envelope, Reply } from "../protocol.ts";

export type EnvelopeHandler = (envelope: Envelope) => Promise<Reply>;

export interface Transport {
  /**
   * Carries an envelope to the instance hosting `envelope.to` and resolves with that host's
   * reply: the actor's answer for an ask, the post-commit ack for a tell. Rejects with
   * `UnavailableError` when no host can be reached; the caller retries until its deadline.
   */
  send(envelope: Envelope): Promise<Reply>;
  /** Registers this instance's host for the actors placed here. */
  serve(handler: EnvelopeHandler): void;
  /** Publishes a public event (after commit). */
  publish(subject: string, payload: unknown): Promise<void>;
  /** Subscribes to public events; `*` and `>` wildcards as in NATS. Returns the unsubscribe. */
  subscribe(subject: string, handler: (subject: string, payload: unknown) => void): () => void;
  close(): Promise<void>;
}

/** NATS subject matching: `*` is one token, `>` the rest. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return s.length > i;
    if (i >= s.length || (p[i] !== "*" && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

// Embedded mode: the only host is this process, events go to local subscribers.
import type { Envelope, Reply } from "../protocol.ts";
import { UnavailableError } from "../errors.ts";
import { subjectMatches, type EnvelopeHandler, type Transport } from "./Transport.ts";

export class InProcessTransport implements Transport {
  #handler: EnvelopeHandler | undefined;
  readonly #subscribers = new Set<{ pattern: string; handler: (subject: string, payload: unknown) => void }>();

  // Not async: the host's promise is handed over as it is, not wrapped in another one per ask.
  send(envelope: Envelope): Promise<Reply> {
    if (!this.#handler) return Promise.reject(new UnavailableError("no host is serving actors in this process"));
    return this.#handler(envelope);
  }

  serve(handler: EnvelopeHandler): void {
    this.#handler = handler;
  }

  async publish(subject: string, payload: unknown): Promise<void> {
    // A copy, as over the wire: subscribers must not share objects with the actor that published.
    const copy = structuredClone(payload);
    for (const s of this.#subscribers) if (subjectMatches(s.pattern, subject)) s.handler(subject, copy);
  }

  subscribe(pattern: string, handler: (subject: string, payload: unknown) => void): () => void {
    const entry = { pattern, handler };
    this.#subscribers.add(entry);
    return () => this.#subscribers.delete(entry);
  }

  async close(): Promise<void> {
    this.#handler = undefined;
    this.#subscribers.clear();
  }
}

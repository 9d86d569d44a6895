// The runtime's only source of time, so tests can move days forward in a millisecond.

export interface Clock {
  now(): number;
  /** Called whenever time jumps (manual clocks); real clocks never call it. */
  onAdvance(listener: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  onAdvance: () => () => {},
};

/** A clock that stands still until told to move. */
export class ManualClock implements Clock {
  #now: number;
  readonly #listeners = new Set<() => void>();

  constructor(start: number = Date.parse("2026-01-01T00:00:00Z")) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  advance(ms: number): void {
    this.#now += ms;
    for (const listener of this.#listeners) listener();
  }

  onAdvance(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

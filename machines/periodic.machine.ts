// A cluster singleton's periodic job (an import, a retention sweep): it runs when its singleton
// wakes, then again each time its durable `tick` timer fires; the kind says how often. A failed
// run is logged in context and simply tried again at the next tick. Its job is the kind's.
import { assign, fromPromise, setup } from "xstate";
import type { Delivered, Effect } from "../actors/protocol.ts";

export interface PeriodicContext {
  /** The job's name: the singleton's id. */
  id: string;
  /** Runs so far, failed ones included. */
  runs: number;
  /** When the last successful run ended. */
  last_run_at: number | null;
  /** What the last successful run handled (rows imported, matchings archived, ...). */
  last_count: number;
  last_error: string | null;
}

export type PeriodicEvent = Delivered & { type: "tick" };

export const periodicMachine = setup({
  types: {
    context: {} as PeriodicContext,
    events: {} as PeriodicEvent,
    input: {} as { id: string },
    emitted: {} as Effect,
  },
  actors: {
    /** One run of the job named `id`; idempotent, since a crash mid-run starts it over. */
    run: fromPromise<{ count: number; at: number }, { id: string }>(async () => {
      throw new Error("run is provided by the kind");
    }),
  },
  actions: {
    /** Sets the durable `tick` timer for the next run: the kind's period. */
    scheduleNext: () => {
      throw new Error("scheduleNext is provided by the kind (its period)");
    },
  },
}).createMachine({
  id: "periodic",
  context: ({ input }) => ({ id: input.id, runs: 0, last_run_at: null, last_count: 0, last_error: null }),
  initial: "running",
  states: {
    running: {
      invoke: {
        id: "run",
        src: "run",
        input: ({ context }) => ({ id: context.id }),
        onDone: {
          target: "idle",
          actions: [
            assign(({ context, event }) => ({ runs: context.runs + 1, last_run_at: event.output.at, last_count: event.output.count, last_error: null })),
            "scheduleNext",
          ],
        },
        onError: { target: "idle", actions: [assign(({ context, event }) => ({ runs: context.runs + 1, last_error: String(event.error) })), "scheduleNext"] },
      },
    },
    idle: { on: { tick: "running" } },
  },
});

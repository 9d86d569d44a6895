// A small actor kind for runtime tests: a counter with a durable reminder and a forwarder.
import { assign, emit, setup } from "xstate";
import { defineActorKind, type ActorKind } from "../../actors/ActorKind.ts";
import { cancelTimer, reply, setTimer, tellActor, type Delivered, type Effect } from "../../actors/protocol.ts";

type CounterEvent =
  | (Delivered & { type: "increment"; by?: number })
  | (Delivered & { type: "remind"; afterMs: number })
  | (Delivered & { type: "reminded" })
  | (Delivered & { type: "cancelReminder" })
  | (Delivered & { type: "forward"; to: string; by: number })
  | (Delivered & { type: "close" });

export interface CounterContext {
  id: string;
  count: number;
  reminders: number;
}

export const counterMachine = setup({
  types: {
    context: {} as CounterContext,
    events: {} as CounterEvent,
    input: {} as { id: string },
    emitted: {} as Effect,
  },
}).createMachine({
  id: "counter",
  context: ({ input }) => ({ id: input.id, count: 0, reminders: 0 }),
  initial: "open",
  states: {
    open: {
      on: {
        increment: {
          actions: [
            assign({ count: ({ context, event }) => context.count + (event.by ?? 1) }),
            emit(({ context, event }) => reply(event.replyTo, { count: context.count })),
          ],
        },
        remind: { actions: emit(({ event }) => setTimer("reminder", event.afterMs, { type: "reminded" })) },
        cancelReminder: { actions: emit(() => cancelTimer("reminder")) },
        reminded: { actions: assign({ reminders: ({ context }) => context.reminders + 1 }) },
        forward: { actions: emit(({ event }) => tellActor(event.to, { type: "increment", by: event.by })) },
        close: "closed",
      },
    },
    closed: { type: "final" },
  },
});

export function counterKind(overrides: Partial<ActorKind<CounterContext>> = {}): ActorKind<CounterContext> {
  return defineActorKind<CounterContext>({ type: "counter", machine: counterMachine, version: 1, ...overrides });
}

// Test actor kinds for cluster runs: a ledger that applies each operation id once, and a
// singleton beacon.
import { assign, emit, setup } from "xstate";
import { defineActorKind } from "../../actors/ActorKind.ts";
import { reply, type Delivered, type Effect } from "../../actors/protocol.ts";

type LedgerEvent = Delivered & { type: "apply"; op: string };

export const ledgerMachine = setup({
  types: { context: {} as { applied: string[] }, events: {} as LedgerEvent, input: {} as { id: string }, emitted: {} as Effect },
  guards: { seen: ({ context, event }) => context.applied.includes(event.op) },
}).createMachine({
  context: { applied: [] },
  on: {
    apply: [
      // A retried operation is answered, not applied again.
      { guard: "seen", actions: emit(({ context, event }) => reply(event.replyTo, { count: context.applied.length })) },
      {
        actions: [
          assign({ applied: ({ context, event }) => [...context.applied, event.op] }),
          emit(({ context, event }) => reply(event.replyTo, { count: context.applied.length })),
        ],
      },
    ],
  },
});

export const ledgerKind = () => defineActorKind({ type: "ledger", machine: ledgerMachine, version: 1 });

const beaconMachine = setup({ types: { context: {} as { id: string }, input: {} as { id: string } } }).createMachine({
  context: ({ input }) => ({ id: input.id }),
  initial: "shining",
  states: { shining: {} },
});

export const beaconKind = () => defineActorKind({ type: "beacon", machine: beaconMachine, version: 1, singletons: ["main"] });

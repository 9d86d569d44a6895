// The accumulator machine as a model (stamps never go back, the state says where it is) and the
// swap scenarios.
import { describe, expect, it } from "vitest";
import { createActor, type SnapshotFrom } from "xstate";
import { getShortestPaths } from "xstate/graph";
import { accumulatorMachine, type AccumulatorEvent, type Location } from "../../machines/accumulator.machine.ts";
import type { Effect } from "../../actors/protocol.ts";

type Snapshot = SnapshotFrom<typeof accumulatorMachine>;
const at = 5_000;
const located = (stamp: number, location: Location) => ({ type: "located", at, stamp, location }) as AccumulatorEvent;
const inCabinet = (stamp: number, cabinet_id = "CAB-1", cell = 1) => located(stamp, { kind: "cabinet", cabinet_id, cell, charge: 80 });
const withTech = (stamp: number, contractor_id = "tech-1") => located(stamp, { kind: "contractor", contractor_id, from: { cabinet_id: "CAB-1", cell: 1 } });
const install = (contractor_id: string, at_ = at) =>
  ({ type: "install", at: at_, contractor_id, scooter_id: "S-1", removed_accumulator_id: "ACC-OLD" }) as AccumulatorEvent;

const paths = getShortestPaths(accumulatorMachine, {
  input: { id: "ACC-1" },
  events: [
    inCabinet(10),
    inCabinet(30, "CAB-2", 4),
    withTech(20),
    withTech(40, "tech-2"),
    located(35, { kind: "scooter", scooter_id: "S-9", contractor_id: "tech-2" }),
    { type: "missing", at, stamp: 25, cabinet_id: "CAB-1", cell: 1 },
    { type: "missing", at, stamp: 50, cabinet_id: "CAB-2", cell: 4 },
    install("tech-1"),
    install("tech-2"),
    { type: "write_off", at },
    { type: "write_off", at, cabinet_id: "CAB-2" },
  ] as AccumulatorEvent[],
  serializeState: (s) => JSON.stringify([s.value, s.context.location, s.context.stamp]),
});

const expectedState: Record<string, string> = { cabinet: "in_cabinet", contractor: "with_contractor", scooter: "in_scooter" };

describe("accumulator machine (model)", () => {
  it("the traversal reaches every location", () => {
    const reached = new Set(paths.map((p) => p.state.value as string));
    expect([...reached].sort()).toEqual(["absent", "in_cabinet", "in_scooter", "unknown", "with_contractor", "written_off"]);
  });

  it("stamps never go back and the state always says where it is", () => {
    for (const path of paths) {
      let stamp = 0;
      for (const { state } of [...path.steps, { state: path.state as Snapshot }]) {
        const c = state.context;
        expect(c.stamp).toBeGreaterThanOrEqual(stamp);
        stamp = c.stamp;
        if (state.value === "written_off") continue; // keeps its last place in context
        if (state.value === "absent") expect(c.stamp).toBe(0);
        else if (state.value === "unknown") expect(c.location).toBeNull();
        else expect(state.value).toBe(expectedState[c.location!.kind]);
      }
    }
  });

  it("written off is final: reached from anywhere but another cabinet's cell, it takes no event at all", () => {
    const ends = paths.filter((p) => p.state.value === "written_off");
    for (const { state, steps } of ends) {
      expect(state.status).toBe("done");
      // Each step holds the state its event led to: the one before the write-off is the step before.
      const before = steps.at(-2)?.state.context.location;
      const by = (steps.at(-1)!.event as { cabinet_id?: string }).cabinet_id;
      if (before?.kind === "cabinet") expect(by).toBe(before.cabinet_id);
      // A done machine ignores events (and the runtime refuses them: event_rejected).
      const restored = createActor(accumulatorMachine, { snapshot: state, input: { id: "ACC-1" } }).start();
      for (const e of [inCabinet(99), withTech(99), install("tech-1"), { type: "write_off", at } as AccumulatorEvent]) restored.send(e);
      expect(restored.getSnapshot().context).toEqual(state.context);
    }
    expect(new Set(ends.map((p) => p.steps.at(-2)?.state.value ?? "absent")).size).toBe(5); // from every other state
  });
});

describe("accumulator machine (scenarios)", () => {
  function run() {
    const effects: Effect[] = [];
    const actor = createActor(accumulatorMachine, { input: { id: "ACC-1" } });
    actor.on("*", (e) => effects.push(e as Effect));
    actor.start();
    return { actor, effects };
  }

  it("located - a stale or repeated move never overwrites a newer one", () => {
    const { actor } = run();
    actor.send(withTech(20));
    actor.send(inCabinet(10)); // an old inventory, redelivered late
    expect(actor.getSnapshot().value).toBe("with_contractor");
    actor.send(withTech(20));
    expect(actor.getSnapshot().context.stamp).toBe(20);
  });

  it("missing - only the cabinet and cell it is in can report it missing", () => {
    const { actor } = run();
    actor.send(inCabinet(10, "CAB-2", 3));
    actor.send({ type: "missing", at, stamp: 20, cabinet_id: "CAB-1", cell: 3 } as AccumulatorEvent);
    expect(actor.getSnapshot().value).toBe("in_cabinet");
    actor.send({ type: "missing", at, stamp: 20, cabinet_id: "CAB-2", cell: 3 } as AccumulatorEvent);
    expect(actor.getSnapshot().value).toBe("unknown");
  });

  it("install - by the contractor holding it: in the scooter, the removed one follows to the contractor", () => {
    const { actor, effects } = run();
    actor.send({ ...withTech(20), charge: 95 } as AccumulatorEvent);
    actor.send({ ...install("tech-1"), replyTo: "r1" } as AccumulatorEvent);
    expect(actor.getSnapshot().value).toBe("in_scooter");
    const removedMove = { type: "located", stamp: at, location: { kind: "contractor", contractor_id: "tech-1", from: { scooter_id: "S-1" } } };
    expect(effects).toContainEqual({ type: "tell", to: "accumulator/ACC-OLD", event: removedMove });
    expect(effects).toContainEqual({
      type: "reply",
      replyTo: "r1",
      reply: {
        ok: true,
        value: { accumulator_id: "ACC-1", scooter_id: "S-1", contractor_id: "tech-1", stamp: at, removed: { accumulator_id: "ACC-OLD", event: removedMove } },
      },
    });
  });

  it("install - repeated after a lost answer gets the same answer", () => {
    const { actor, effects } = run();
    actor.send(withTech(20));
    actor.send({ ...install("tech-1"), replyTo: "r1" } as AccumulatorEvent);
    actor.send({ ...install("tech-1", at + 999), replyTo: "r2" } as AccumulatorEvent);
    const replies = effects.filter((e) => e.type === "reply") as Extract<Effect, { type: "reply" }>[];
    expect(replies[1]!.reply).toEqual(replies[0]!.reply);
    expect(effects.filter((e) => e.type === "tell")).toHaveLength(1);
  });

  it("install - of one the contractor does not hold is refused and changes nothing", () => {
    const { actor, effects } = run();
    actor.send({ ...install("tech-1"), replyTo: "r0" } as AccumulatorEvent);
    actor.send(withTech(20, "tech-2"));
    actor.send({ ...install("tech-1"), replyTo: "r1" } as AccumulatorEvent);
    for (const r of ["r0", "r1"]) {
      expect(effects).toContainEqual(
        expect.objectContaining({ type: "reply", replyTo: r, reply: expect.objectContaining({ ok: false, code: "not_held_by_contractor" }) }),
      );
    }
    expect(actor.getSnapshot().value).toBe("with_contractor");
  });

  it("write_off - one in a cabinet is written off only through that cabinet; the others refuse so the route asks again", () => {
    const { actor, effects } = run();
    actor.send(inCabinet(10, "CAB-2", 4));
    actor.send({ type: "write_off", at, replyTo: "w1" } as AccumulatorEvent);
    actor.send({ type: "write_off", at, cabinet_id: "CAB-1", replyTo: "w2" } as AccumulatorEvent);
    for (const r of ["w1", "w2"]) {
      expect(effects).toContainEqual(
        expect.objectContaining({ type: "reply", replyTo: r, reply: expect.objectContaining({ ok: false, code: "accumulator_moved" }) }),
      );
    }
    expect(actor.getSnapshot().value).toBe("in_cabinet");
    actor.send({ type: "write_off", at: at + 1, cabinet_id: "CAB-2" } as AccumulatorEvent);
    expect(actor.getSnapshot().value).toBe("written_off");
    expect(actor.getSnapshot().context).toMatchObject({ location: { kind: "cabinet", cabinet_id: "CAB-2", cell: 4 }, updated_at: at + 1 });
  });
});

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
  ] as AccumulatorEvent[],
  serializeState: (s) => JSON.stringify([s.value, s.context.location, s.context.stamp]),
});

const expectedState: Record<string, string> = { cabinet: "in_cabinet", contractor: "with_contractor", scooter: "in_scooter" };

describe("accumulator machine (model)", () => {
  it("the traversal reaches every location", () => {
    const reached = new Set(paths.map((p) => p.state.value as string));
    expect([...reached].sort()).toEqual(["absent", "in_cabinet", "in_scooter", "unknown", "with_contractor"]);
  });

  it("stamps never go back and the state always says where it is", () => {
    for (const path of paths) {
      let stamp = 0;
      for (const { state } of [...path.steps, { state: path.state as Snapshot }]) {
        const c = state.context;
        expect(c.stamp).toBeGreaterThanOrEqual(stamp);
        stamp = c.stamp;
        if (state.value === "absent") expect(c.stamp).toBe(0);
        else if (state.value === "unknown") expect(c.location).toBeNull();
        else expect(state.value).toBe(expectedState[c.location!.kind]);
      }
    }
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
});

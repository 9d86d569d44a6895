// State value helpers used by the journal and public events.
import { describe, expect, it } from "vitest";
import { sameState, stateName, topState } from "../../actors/ActorKind.ts";

describe("state values", () => {
  it("sameState compares nested and parallel values by structure", () => {
    const a = { registered: { connectivity: "online", command: "idle" } };
    expect(sameState(a, { registered: { command: "idle", connectivity: "online" } })).toBe(true);
    expect(sameState(a, { registered: { connectivity: "online", command: "unlocking" } })).toBe(false);
    expect(sameState(a, { registered: { connectivity: "online" } })).toBe(false);
    expect(sameState("idle", "idle")).toBe(true);
    expect(sameState("idle", { idle: {} })).toBe(false);
    expect(sameState(null, "idle")).toBe(false);
  });

  it("stateName and topState read a value as text", () => {
    expect(stateName({ bound: "sending" })).toBe("bound.sending");
    expect(stateName({ registered: { connectivity: "online", command: "idle" } })).toBe("registered.connectivity.online,command.idle");
    expect(topState({ bound: "idle" })).toBe("bound");
  });
});

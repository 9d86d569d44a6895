// docs/asyncapi.yaml: what the code generates from the Schemas it publishes and decodes with, and a
// well-formed AsyncAPI 3.0 document.
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { asyncApiDocument, asyncApiYaml } from "../../services/asyncApi.ts";
import { publicEvents } from "../../services/publicEvents.ts";
import { unresolvedRefs } from "../support/apiDocuments.ts";

const document = asyncApiDocument() as any;

describe("docs/asyncapi.yaml", () => {
  it("equals what the code generates (run `npm run docs:asyncapi` after changing a Schema)", () => {
    const committed = readFileSync(path.resolve(import.meta.dirname, "../../docs/asyncapi.yaml"), "utf8");
    expect(committed).toBe(asyncApiYaml());
  });

  it("is AsyncAPI 3.0: every $ref resolves, every address parameter is declared, operations send or receive their channel's messages", () => {
    expect(document.asyncapi).toBe("3.0.0");
    expect(unresolvedRefs(document)).toEqual([]);
    expect(JSON.stringify(document)).not.toMatch(/Infinity|NaN/);
    for (const [name, channel] of Object.entries<any>(document.channels)) {
      const inAddress = [...channel.address.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      expect(Object.keys(channel.parameters ?? {}).sort(), name).toEqual(inAddress);
    }
    for (const [name, op] of Object.entries<any>(document.operations)) {
      expect(["send", "receive"], name).toContain(op.action);
      const channel = op.channel.$ref.replace("#/channels/", "");
      for (const message of op.messages) expect(message.$ref, name).toMatch(new RegExp(`^#/channels/${channel}/messages/`));
    }
  });

  it("describes every public event, the status input and both cabinet topics", () => {
    const addresses = Object.values<any>(document.channels).map((c) => c.address);
    for (const event of Object.values(publicEvents)) expect(addresses).toContain(event.subject.replace(/<([^>]+)>/, "{$1}"));
    expect(addresses).toEqual(expect.arrayContaining(["contractor.statuses.events", "$devices/{cabinet_id}/commands", "$devices/{cabinet_id}/events"]));
    expect(document.components.messages.driverStatus.payload).toMatchObject({
      required: ["park_id", "driver_id", "status", "updated_at"],
      additionalProperties: true,
      properties: { status: { enum: ["online", "busy", "offline"] } },
    });
    // An optional field is absent, never null, in what the decoder accepts.
    expect(document.components.messages.inventoryReport.payload.properties.request_id).toEqual({ type: "string", minLength: 1, maxLength: 128 });
  });
});

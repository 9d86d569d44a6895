// The messages the instance sends and receives, as AsyncAPI 3.0 (docs/asyncapi.yaml): the public
// events on NATS, the driver statuses it takes from JetStream and the cabinets' MQTT topics, their
// payloads generated from the Schemas the code publishes and decodes with (`npm run docs:asyncapi`).
import { writeFileSync } from "node:fs";
import type { Schema } from "effect";
import { componentSchema, type JsonSchema } from "../http/jsonSchema.ts";
import { CellClosed, commandsTopic, eventsTopic, InventoryCommand, InventoryReport, UnlockCommand, UnlockResult } from "../integrations/cabinet/index.ts";
import { statusStreamConfig } from "../streams/status/config.ts";
import { StatusPayload } from "../streams/status/statusMessages.ts";
import { publicEvents } from "./publicEvents.ts";
import { toYaml } from "./yaml.ts";

interface Message {
  name: string;
  summary: string;
  schema: Schema.Top;
}

interface Channel {
  name: string;
  address: string;
  server: "nats" | "mqtt";
  description: string;
  parameters: Record<string, string>;
  /** What the instance does with the messages: `send` (publishes) or `receive` (subscribes). */
  action: "send" | "receive";
  messages: Message[];
}

const camel = (name: string) => name.replace(/-(.)/g, (_, c: string) => c.toUpperCase());

/** `fleet.events.mailing.<mailing_id>` -> `fleet.events.mailing.{mailing_id}` and its parameter. */
function eventChannels(): Channel[] {
  return Object.entries(publicEvents).map(([type, event]) => {
    const parameter = /<([^>]+)>/.exec(event.subject)![1]!;
    return {
      name: `${camel(type)}Events`,
      address: event.subject.replace(`<${parameter}>`, `{${parameter}}`),
      server: "nats",
      description: `${event.summary} Published after the change is committed, at least once (docs/events/README.md: dropping repeats); the prefix is the cluster name (CLUSTER_NAME).`,
      parameters: { [parameter]: "the id, with '%', '.', '*', '>' and whitespace percent-escaped (one subject token)" },
      action: "send",
      messages: [{ name: type, summary: event.summary, schema: event.schema }],
    };
  });
}

function inputChannels(): Channel[] {
  const cabinet = { cabinet_id: "the cabinet's id: 1..64 letters, digits, '.', '_', ':' or '-'" };
  return [
    {
      name: "driverStatuses",
      address: statusStreamConfig({}).names.subject,
      server: "nats",
      description:
        "Drivers' on-line statuses, read from JetStream (stream STATUS_STREAM, subject STATUS_SUBJECT); unknown fields are ignored, a message off contract is dead-lettered with its reason.",
      parameters: {},
      action: "receive",
      messages: [{ name: "driverStatus", summary: "A driver's status changed at updated_at", schema: StatusPayload }],
    },
    {
      name: "cabinetDeviceCommands",
      address: commandsTopic("", "{cabinet_id}"),
      server: "mqtt",
      description: "Commands to one cabinet (MQTT_TOPIC_PREFIX goes in front); its answers echo request_id on its events topic.",
      parameters: cabinet,
      action: "send",
      messages: [
        { name: "inventory", summary: "Report what every cell holds (the poll)", schema: InventoryCommand },
        { name: "unlock", summary: "Open these cells", schema: UnlockCommand },
      ],
    },
    {
      name: "cabinetDeviceEvents",
      address: eventsTopic("", "{cabinet_id}"),
      server: "mqtt",
      description: "What one cabinet reports (MQTT_TOPIC_PREFIX goes in front); a message off contract is counted and dropped.",
      parameters: cabinet,
      action: "receive",
      messages: [
        { name: "inventoryReport", summary: "What every cell holds: the answer to an inventory command, or on the cabinet's own", schema: InventoryReport },
        { name: "unlockResult", summary: "Which cells of an unlock opened", schema: UnlockResult },
        { name: "cellClosed", summary: "A cell's door closed, with what is inside", schema: CellClosed },
      ],
    },
  ];
}

const ref = (...path: string[]) => ({ $ref: `#/${path.join("/")}` });

/** The AsyncAPI 3.0 document of every channel above. */
export function asyncApiDocument() {
  const channels = [...eventChannels(), ...inputChannels()];
  for (const names of [channels.map((c) => c.name), channels.flatMap((c) => c.messages.map((m) => m.name))])
    if (new Set(names).size !== names.length) throw new Error(`a channel or message name twice: ${names.join(", ")}`);
  const schemas: Record<string, JsonSchema> = {};
  const messages: Record<string, unknown> = {};
  for (const message of channels.flatMap((c) => c.messages)) {
    // Receivers ignore fields they do not know; our own events may gain fields.
    messages[message.name] = {
      name: message.name,
      summary: message.summary,
      contentType: "application/json",
      payload: componentSchema(message.schema, schemas, "ignore"),
    };
  }
  return {
    asyncapi: "3.0.0",
    info: {
      title: "fleet-actors messages",
      version: "1",
      description: "What a fleet-actors instance publishes and consumes besides HTTP (GET /openapi.json describes that). Payloads are JSON.",
    },
    defaultContentType: "application/json",
    servers: {
      nats: {
        host: "127.0.0.1:4222",
        protocol: "nats",
        description: "the cluster's NATS (NATS_URL); the driver statuses may come from another (STATUS_NATS_URL)",
      },
      mqtt: { host: "127.0.0.1:1883", protocol: "mqtt", description: "the cabinets' broker (MQTT_URL): Yandex IoT Core or any MQTT 3.1.1 broker" },
    },
    channels: Object.fromEntries(
      channels.map((c) => [
        c.name,
        {
          address: c.address,
          description: c.description,
          servers: [ref("servers", c.server)],
          ...(Object.keys(c.parameters).length
            ? { parameters: Object.fromEntries(Object.entries(c.parameters).map(([name, description]) => [name, { description }])) }
            : {}),
          messages: Object.fromEntries(c.messages.map((m) => [m.name, ref("components", "messages", m.name)])),
        },
      ]),
    ),
    operations: Object.fromEntries(
      channels.map((c) => [
        `${c.action}${c.name[0]!.toUpperCase()}${c.name.slice(1)}`,
        { action: c.action, channel: ref("channels", c.name), messages: c.messages.map((m) => ref("channels", c.name, "messages", m.name)) },
      ]),
    ),
    components: { messages, schemas },
  };
}

/** docs/asyncapi.yaml as the code generates it. */
export const asyncApiYaml = () => `# Generated by \`npm run docs:asyncapi\` from the code's Schemas; do not edit.\n${toYaml(asyncApiDocument())}`;

/** Regenerates docs/asyncapi.yaml (`npm run docs:asyncapi`). */
export function writeAsyncApi(file: string): void {
  writeFileSync(file, asyncApiYaml());
}

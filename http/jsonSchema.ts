// Effect Schemas as JSON Schemas inside an API description (OpenAPI, AsyncAPI): definitions
// shared under `components.schemas`, and optional fields as the decoders read them.
import { Schema } from "effect";

export type JsonSchema = Record<string, unknown>;

/**
 * The JSON Schema of an Effect Schema, its definitions moved into `defs` (an OpenAPI or AsyncAPI
 * document's `components.schemas`), `onExcessProperty` as the Schema is decoded with.
 * `Schema.optional` fields come out admitting `null` (the JSON codec's reading of `undefined`);
 * our decoders (routes, messages) use the Schema itself, which refuses `null` there, so that branch is dropped.
 */
export function componentSchema(schema: Schema.Top, defs: Record<string, JsonSchema>, onExcessProperty: "ignore" | "error"): JsonSchema {
  const document = Schema.toJsonSchemaDocument(schema, { onExcessProperty });
  for (const [name, definition] of Object.entries(document.definitions)) defs[name] ??= relink(withoutOptionalNull(definition as JsonSchema));
  return relink(withoutOptionalNull(document.schema as JsonSchema));
}

function withoutOptionalNull(schema: JsonSchema): JsonSchema {
  return walk(schema, (node) => {
    const properties = node.properties as Record<string, JsonSchema> | undefined;
    if (!properties) return node;
    const required = new Set((node.required as string[] | undefined) ?? []);
    const fixed = Object.fromEntries(
      Object.entries(properties).map(([name, property]) => {
        const branches = property.anyOf as JsonSchema[] | undefined;
        if (required.has(name) || !branches || branches.at(-1)?.type !== "null") return [name, property];
        const rest = branches.slice(0, -1);
        return [name, rest.length === 1 ? rest[0]! : { ...property, anyOf: rest }];
      }),
    );
    return { ...node, properties: fixed };
  });
}

/** `#/$defs/X` -> `#/components/schemas/X`. */
const relink = (schema: JsonSchema): JsonSchema =>
  walk(schema, (node) => (typeof node.$ref === "string" ? { ...node, $ref: node.$ref.replace(/^#\/\$defs\//, "#/components/schemas/") } : node));

/** Applies `visit` to every object node, children first. */
function walk(value: JsonSchema, visit: (node: JsonSchema) => JsonSchema): JsonSchema {
  const mapped = (v: unknown): unknown => (Array.isArray(v) ? v.map(mapped) : v !== null && typeof v === "object" ? walk(v as JsonSchema, visit) : v);
  return visit(Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapped(v)])));
}

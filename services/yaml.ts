// Plain data (what JSON holds) as block YAML, for documents people read (docs/asyncapi.yaml).
// Every string is written double-quoted as JSON writes it (a valid YAML scalar), so no value can
// turn into another type, a comment or an anchor.

type Plain = null | boolean | number | string | readonly Plain[] | { readonly [key: string]: Plain };

const isBlock = (value: Plain): value is readonly Plain[] | { readonly [key: string]: Plain } =>
  value !== null && typeof value === "object" && Object.keys(value).length > 0;

const KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;
/** Plain words some YAML readers (1.1) take for booleans or null. */
const RESERVED = /^(y|n|yes|no|on|off|true|false|null)$/i;
const key = (name: string) => (KEY.test(name) && !RESERVED.test(name) ? name : JSON.stringify(name));

function block(value: readonly Plain[] | { readonly [key: string]: Plain }, indent: string): string {
  if (Array.isArray(value)) {
    // `- ` stands in the first line's indentation, the rest of the item indented under it.
    return value
      .map((item: Plain) => (isBlock(item) ? `${indent}- ${block(item, `${indent}  `).slice(indent.length + 2)}` : `${indent}- ${JSON.stringify(item)}\n`))
      .join("");
  }
  return Object.entries(value)
    .map(([name, item]) => (isBlock(item) ? `${indent}${key(name)}:\n${block(item, `${indent}  `)}` : `${indent}${key(name)}: ${JSON.stringify(item)}\n`))
    .join("");
}

/**
 * `value` as a YAML document.
 * @example toYaml({ a: [1, { b: "x" }] }) // 'a:\n  - 1\n  - b: "x"\n'
 */
export function toYaml(value: object): string {
  return block(value as { readonly [key: string]: Plain }, "");
}

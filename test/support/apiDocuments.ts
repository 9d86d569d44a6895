// Checks shared by the tests of the API descriptions (OpenAPI, AsyncAPI).

/** Every `$ref` in `value` that does not point at something in `root`. */
export function unresolvedRefs(root: unknown, value: unknown = root): string[] {
  if (Array.isArray(value)) return value.flatMap((v) => unresolvedRefs(root, v));
  if (value === null || typeof value !== "object") return [];
  const own = Object.entries(value).flatMap(([key, v]) => (key === "$ref" ? [] : unresolvedRefs(root, v)));
  const ref = (value as { $ref?: unknown }).$ref;
  if (typeof ref !== "string") return own;
  const target = ref
    .replace(/^#\//, "")
    .split("/")
    .map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce<any>((node, part) => node?.[part], root);
  return target === undefined || !ref.startsWith("#/") ? [ref, ...own] : own;
}

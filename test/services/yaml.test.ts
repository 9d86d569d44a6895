// The YAML of docs/asyncapi.yaml: no value may be read back as another type or cut by a comment.
import { describe, expect, it } from "vitest";
import { toYaml } from "../../services/yaml.ts";

describe("toYaml", () => {
  it("quotes every string and every key a reader could misread; empty containers stay inline", () => {
    const yaml = toYaml({
      plain_key: "yes",
      yes: "no",
      $ref: "#/components/x",
      "a b": "x: y # not a comment",
      number: "01",
      lines: "one\ntwo 'and' \"three\"",
      values: [1.5, true, null],
      empty: {},
      none: [],
    });
    expect(yaml).toBe(
      [
        'plain_key: "yes"',
        '"yes": "no"',
        '"$ref": "#/components/x"',
        '"a b": "x: y # not a comment"',
        'number: "01"',
        'lines: "one\\ntwo \'and\' \\"three\\""',
        "values:",
        "  - 1.5",
        "  - true",
        "  - null",
        "empty: {}",
        "none: []",
        "",
      ].join("\n"),
    );
  });

  it("nests maps in lists and lists in lists under their dash", () => {
    expect(toYaml({ a: [{ b: 1, c: { d: [2, [3, 4]] } }, [{ e: "f" }]] })).toBe(
      ["a:", "  - b: 1", "    c:", "      d:", "        - 2", "        - - 3", "          - 4", '  - - e: "f"', ""].join("\n"),
    );
  });
});

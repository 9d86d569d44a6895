// Where a V8 profile's call frame belongs, for bench/profileSummary.ts (CPU) and
// bench/heapSampleSummary.ts (heap).

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

/** The product's own folders (bench/ and test/ drive it). */
export const PRODUCT_FOLDERS = ["actors", "http", "storage", "services", "integrations", "machines", "streams"] as const;
const PROJECT_FOLDER = new RegExp(`/(${[...PRODUCT_FOLDERS, "bench", "test"].join("|")})/([^/]+/)?`);

/** Which part of the system a frame belongs to: a project folder, an npm package, node internals or a V8 pseudo-frame. */
export function componentOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === "") return functionName.startsWith("(") ? functionName : "(native)";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith("node:")) return `node:${url.slice(5).split("/")[0]}`;
  const project = PROJECT_FOLDER.exec(url);
  if (project) return project[2] && !project[2].endsWith(".ts/") ? `${project[1]}/${project[2].slice(0, -1)}` : project[1]!;
  return url
    .replace(/^file:\/\//, "")
    .split("/")
    .slice(-1)[0]!;
}

/** A function and where it is: `name package/file.js:line`, or `name folder/file.ts:line` in the project. */
export function frameLabel(frame: CallFrame): string {
  const where = frame.url ? `${frame.url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*?\/(?=[^/]+\/[^/]+$)/, "")}:${frame.lineNumber + 1}` : "";
  return `${frame.functionName || "(anonymous)"} ${where}`;
}

// The status ingest worker's first module: worker threads do not inherit the parent's loader
// hooks, so the TypeScript sources need tsx registered before the entry is imported.
import { register } from "tsx/esm/api";

register();
await import("./statusIngest.worker.ts");

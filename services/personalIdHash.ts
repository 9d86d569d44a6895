// A stand-in for a person's id from a partner (KRT's deptrans id) where only sameness matters:
// journals and logs can tell "the same id again" from "another id" without holding the id.
import { createHash } from "node:crypto";

/** @example personalIdHash("1234567890") // "sha256:c775e7b757ede630" */
export const personalIdHash = (id: string): string => `sha256:${createHash("sha256").update(id).digest("hex").slice(0, 16)}`;

// Structured JSON logs, one line each. Callers pass ids, never personal data.

export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

type Level = "info" | "warn" | "error";
const rank: Record<Level | "silent", number> = { info: 0, warn: 1, error: 2, silent: 3 };

export function createLogger(options: { level?: Level | "silent"; write?: (line: string) => void; base?: Record<string, unknown> } = {}): Logger {
  const min = rank[options.level ?? "info"];
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const base = options.base ?? {};
  const log = (level: Level) => (msg: string, fields?: Record<string, unknown>) => {
    if (rank[level] < min) return;
    write(JSON.stringify({ level, time: new Date().toISOString(), msg, ...base, ...fields }));
  };
  return {
    info: log("info"),
    warn: log("warn"),
    error: log("error"),
    child: (fields) => createLogger({ ...options, base: { ...base, ...fields } }),
  };
}

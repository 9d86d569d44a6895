// Writes a raw request head on a fresh connection and tells what came back: the status and body,
// or how the connection ended without one (reset, or closed / still silent after `waitMs`).
import net from "node:net";

export type RawAnswer = { status: number; body: string } | { status: "reset" | "no answer" };

export function rawRequest(port: number, head: string, waitMs = 5_000): Promise<RawAnswer> {
  return new Promise((resolve) => {
    let received = "";
    const socket = net.connect(port, "127.0.0.1", () => socket.write(head));
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on("data", (chunk) => {
      received += chunk;
    });
    socket.on("error", () => {});
    socket.on("close", (hadError) => {
      clearTimeout(timer);
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(received)?.[1];
      if (status) resolve({ status: Number(status), body: received.slice(received.indexOf("\r\n\r\n") + 4) });
      else resolve({ status: hadError ? "reset" : "no answer" });
    });
  });
}

/** A GET head with `fields` extra header fields of `valueBytes` each, closing the connection after. */
export function getHead(path: string, { fields = 0, valueBytes = 1 } = {}): string {
  const extra = Array.from({ length: fields }, (_, i) => `x-field-${i}: ${"v".repeat(valueBytes)}\r\n`).join("");
  return `GET ${path} HTTP/1.1\r\nhost: fleet\r\n${extra}connection: close\r\n\r\n`;
}

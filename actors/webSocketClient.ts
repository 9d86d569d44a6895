// The smallest WebSocket client the runtime needs (RFC 6455): connect (ws:// or wss://), send
// text messages, answer pings, notice the close. Node 20 has no WebSocket client of its own.
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";

const ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

export interface WebSocketConnection {
  /** Sends one text message; false when the socket is gone or too far behind (the message is dropped). */
  send(text: string): boolean;
  close(): void;
  /** Resolves when the connection ends, either side. */
  readonly closed: Promise<void>;
}

/** Frames sent by a client are masked (RFC 6455 5.3). */
function frame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const header = Buffer.alloc(length < 126 ? 2 : length < 65_536 ? 4 : 10);
  header[0] = 0x80 | opcode;
  if (length < 126) header[1] = 0x80 | length;
  else if (length < 65_536) {
    header[1] = 0x80 | 126;
    header.writeUInt16BE(length, 2);
  } else {
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  const mask = randomBytes(4);
  const masked = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) masked[i] = payload[i]! ^ mask[i & 3]!;
  return Buffer.concat([header, mask, masked]);
}

/**
 * Opens a WebSocket to `url`; rejects if the server does not upgrade.
 * @example const ws = await connectWebSocket("ws://127.0.0.1:8080"); ws.send("{}")
 */
export function connectWebSocket(url: string, options: { timeoutMs?: number; maxBufferedBytes?: number } = {}): Promise<WebSocketConnection> {
  const target = new URL(url);
  const secure = target.protocol === "wss:";
  if (!secure && target.protocol !== "ws:") return Promise.reject(new Error(`not a WebSocket URL: ${url}`));
  const key = randomBytes(16).toString("base64");
  const expected = createHash("sha1")
    .update(key + ACCEPT_GUID)
    .digest("base64");
  const maxBuffered = options.maxBufferedBytes ?? 4 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const request = (secure ? https : http).request({
      hostname: target.hostname,
      port: target.port || (secure ? 443 : 80),
      path: `${target.pathname}${target.search}`,
      timeout: options.timeoutMs ?? 5_000,
      headers: { Connection: "Upgrade", Upgrade: "websocket", "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13" },
    });
    request.once("timeout", () => request.destroy(new Error(`no WebSocket upgrade from ${target.host} in time`)));
    request.once("error", reject);
    request.once("response", (res) => {
      res.resume();
      reject(new Error(`${target.host} answered ${res.statusCode} instead of upgrading to a WebSocket`));
    });
    request.once("upgrade", (res, socket: Socket, head: Buffer) => {
      if (res.headers["sec-websocket-accept"] !== expected) {
        socket.destroy();
        reject(new Error(`${target.host} sent a wrong Sec-WebSocket-Accept`));
        return;
      }
      socket.setNoDelay(true);
      socket.setTimeout(0);
      let open = true;
      const closed = new Promise<void>((done) => socket.once("close", () => done()));
      void closed.then(() => (open = false));
      socket.on("error", () => socket.destroy());
      let buffer = head;
      // Server frames are unmasked; only pings and the close need an answer.
      socket.on("data", (chunk: Buffer) => {
        buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
        for (;;) {
          if (buffer.length < 2) return;
          const opcode = buffer[0]! & 0x0f;
          let length = buffer[1]! & 0x7f;
          let offset = 2;
          if (length === 126) {
            if (buffer.length < 4) return;
            length = buffer.readUInt16BE(2);
            offset = 4;
          } else if (length === 127) {
            if (buffer.length < 10) return;
            length = Number(buffer.readBigUInt64BE(2));
            offset = 10;
          }
          if (buffer[1]! & 0x80) offset += 4;
          if (buffer.length < offset + length) return;
          const payload = buffer.subarray(offset, offset + length);
          buffer = buffer.subarray(offset + length);
          if (opcode === 0x9) socket.write(frame(0xa, Buffer.from(payload)));
          else if (opcode === 0x8) {
            socket.end(frame(0x8, Buffer.alloc(0)));
            return;
          }
        }
      });
      resolve({
        send: (text) => {
          if (!open || socket.writableLength > maxBuffered) return false;
          socket.write(frame(0x1, Buffer.from(text)));
          return true;
        },
        close: () => {
          if (open) socket.end(frame(0x8, Buffer.alloc(0)));
          setTimeout(() => socket.destroy(), 1_000).unref();
        },
        closed,
      });
    });
    request.end();
  });
}

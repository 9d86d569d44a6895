// Oversized request heads get a clear status instead of reaching the routes: 414 for a long URL,
// 431 for large headers. (Far beyond these, past what uWebSockets buffers for a request head,
// about 64 KB, uWS itself resets the connection before any handler runs; nothing here can answer.)
import type { MiddlewareHandler } from "hyper-express";

/** Longest path plus query accepted; routes' ids and cursors are far shorter. */
export const MAX_URL_BYTES = 8 * 1024;
/** Largest sum of header names and values accepted. */
export const MAX_HEADER_BYTES = 16 * 1024;

export const limitRequestHead: MiddlewareHandler = (req, res, next) => {
  if (Buffer.byteLength(req.url) > MAX_URL_BYTES) return void res.status(414).json({ code: "uri_too_long", message: `the URL is over ${MAX_URL_BYTES} bytes` });
  let size = 0;
  for (const [name, value] of Object.entries(req.headers)) size += name.length + Buffer.byteLength(String(value));
  if (size > MAX_HEADER_BYTES)
    return void res.status(431).json({ code: "request_header_fields_too_large", message: `the headers are over ${MAX_HEADER_BYTES} bytes` });
  next();
};

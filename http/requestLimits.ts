// Oversized request heads get a clear status instead of reaching the routes: 414 for a long URL,
// 431 for large headers or too many of them. (Past what uWebSockets itself accepts, a head over
// about 128 KB or over 48 header fields, uWS resets or ignores the request before any handler
// runs and nothing here can answer: deploy/haproxy.cfg, the production front, answers those.)
import type { MiddlewareHandler } from "hyper-express";

/** Longest path plus query accepted; routes' ids and cursors are far shorter. */
export const MAX_URL_BYTES = 8 * 1024;
/** Largest sum of header names and values accepted. */
export const MAX_HEADER_BYTES = 16 * 1024;
/** Most header fields accepted: below uWS's own 48, leaving room for what proxies add. */
export const MAX_HEADER_FIELDS = 40;

/** UTF-8 takes at most 3 bytes per UTF-16 unit: a head this short needs no exact count. */
const mayExceed = (units: number, limit: number) => units * 3 > limit;

function headerBytes(headers: Record<string, unknown>): number {
  let size = 0;
  for (const name in headers) size += name.length + Buffer.byteLength(String(headers[name]));
  return size;
}

export const limitRequestHead: MiddlewareHandler = (req, res, next) => {
  if (mayExceed(req.url.length, MAX_URL_BYTES) && Buffer.byteLength(req.url) > MAX_URL_BYTES)
    return void res.status(414).json({ code: "uri_too_long", message: `the URL is over ${MAX_URL_BYTES} bytes` });
  const headers = req.headers;
  let fields = 0;
  let units = 0;
  for (const name in headers) {
    fields++;
    units += name.length + String(headers[name]).length;
  }
  if (fields > MAX_HEADER_FIELDS)
    return void res.status(431).json({ code: "request_header_fields_too_large", message: `over ${MAX_HEADER_FIELDS} header fields` });
  if (mayExceed(units, MAX_HEADER_BYTES) && headerBytes(headers) > MAX_HEADER_BYTES)
    return void res.status(431).json({ code: "request_header_fields_too_large", message: `the headers are over ${MAX_HEADER_BYTES} bytes` });
  next();
};

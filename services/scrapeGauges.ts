// Gauges read from the projection when Prometheus scrapes: several gauges of one service share
// one read per scrape (the first gauge's collect starts it, the others of that scrape join it).

/** `read` at most once per scrape: concurrent callers of one scrape share its result. */
export function oncePerScrape<T>(read: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= read().finally(() => setImmediate(() => (pending = undefined)));
    return pending;
  };
}

// Single lookups that meet at a partner become one bulk call: a lookup leaves at once while fewer
// than `maxInFlight` bulk calls are out; past that, lookups wait and leave together when one
// returns, so batches grow with the load and an idle caller pays no added latency.

export interface CoalesceOptions {
  /** Bulk calls out at once; the lookups beyond them wait for the next batch. */
  maxInFlight: number;
  /** Keys in one bulk call. */
  maxBatch: number;
}

/**
 * `bulk` answers each key it was given with its value or the error of that key alone; a key it
 * leaves out fails with "no answer", and its own failure fails every key of the batch. Equal keys
 * waiting together share one slot of the batch.
 * @example const storePhone = coalesce((phones) => personal.bulkStore("phones", phones), { maxInFlight: 4, maxBatch: 100 })
 */
export function coalesce<K, V>(bulk: (keys: K[]) => Promise<ReadonlyMap<K, V | Error>>, options: CoalesceOptions): (key: K) => Promise<V> {
  const waiting = new Map<K, { resolve: (value: V) => void; reject: (error: unknown) => void }[]>();
  let inFlight = 0;

  const send = () => {
    while (inFlight < options.maxInFlight && waiting.size > 0) {
      const batch = new Map<K, { resolve: (value: V) => void; reject: (error: unknown) => void }[]>();
      for (const [key, callers] of waiting) {
        batch.set(key, callers);
        waiting.delete(key);
        if (batch.size === options.maxBatch) break;
      }
      inFlight++;
      bulk([...batch.keys()])
        .then(
          (answers) => {
            for (const [key, callers] of batch) {
              const answer = answers.has(key) ? answers.get(key)! : new Error("the partner's bulk answer left this key out");
              for (const caller of callers) answer instanceof Error ? caller.reject(answer) : caller.resolve(answer);
            }
          },
          (error: unknown) => {
            for (const callers of batch.values()) for (const caller of callers) caller.reject(error);
          },
        )
        .finally(() => {
          inFlight--;
          send();
        });
    }
  };

  return (key) =>
    new Promise<V>((resolve, reject) => {
      const callers = waiting.get(key);
      if (callers) callers.push({ resolve, reject });
      else waiting.set(key, [{ resolve, reject }]);
      send();
    });
}

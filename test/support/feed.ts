// Reads the inspector's live feed (server-sent events) as a test client: every record it sends,
// until closed.
export interface FeedClient {
  status: number;
  records: any[];
  close(): void;
}

export async function openFeed(baseUrl: string, token: string, query: Record<string, string> = {}): Promise<FeedClient> {
  const controller = new AbortController();
  const res = await fetch(`${baseUrl}/inspector/api/feed?${new URLSearchParams(query)}`, {
    headers: { authorization: `Bearer ${token}` },
    signal: controller.signal,
  });
  const records: any[] = [];
  if (res.ok && res.body) {
    void (async () => {
      const decoder = new TextDecoder();
      let buffer = "";
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
            const message = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = message
              .split("\n")
              .filter((l) => l.startsWith("data: "))
              .map((l) => l.slice(6))
              .join("\n");
            if (data) records.push(JSON.parse(data));
          }
        }
      } catch {
        // closed
      }
    })();
  } else await res.text();
  return { status: res.status, records, close: () => controller.abort() };
}

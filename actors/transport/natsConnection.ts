// The one way an instance connects to NATS (the cluster member with its transport, KV and
// JetStream, and the status stream's consumer, on whichever thread): its servers, login, TLS and
// reconnect policy, and a refused login or an untrusted server reported in the operator's words.
import { AuthorizationError, connect, credsAuthenticator, type ConnectionOptions, type NatsConnection } from "@nats-io/transport-node";

/** Plain data (PEM and creds contents, never paths), so it crosses to a worker thread as is. */
export interface NatsAuth {
  /** A `.creds` file's contents: the user's JWT and NKey seed. */
  readonly creds?: string;
  readonly user?: string;
  readonly password?: string;
  readonly token?: string;
  /** The CA the server's certificate must chain to; a client certificate and its key. */
  readonly tls?: { readonly ca?: string; readonly cert?: string; readonly key?: string };
}

export interface NatsConnectOptions {
  /** Comma-separated server URLs. */
  readonly servers: string;
  /** The connection's name as the server lists it. */
  readonly name: string;
  readonly auth: NatsAuth;
  /** Client pings (ms): how soon a dead server is noticed. */
  readonly pingInterval?: number;
}

/** nats.js options for `options`; kept apart from connect so tests can read them. */
export function natsConnectionOptions({ servers, name, auth, pingInterval }: NatsConnectOptions): ConnectionOptions {
  return {
    servers: servers.split(","),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    ...(pingInterval ? { pingInterval } : {}),
    ...(auth.creds ? { authenticator: credsAuthenticator(new TextEncoder().encode(auth.creds)) } : {}),
    ...(auth.user === undefined ? {} : { user: auth.user, pass: auth.password ?? "" }),
    ...(auth.token === undefined ? {} : { token: auth.token }),
    ...(auth.tls ? { tls: { ...auth.tls } } : {}),
  };
}

/**
 * Connects; it keeps reconnecting for as long as the connection lives. A first connection the
 * server refuses fails with what to check (never the secret itself).
 * @example const nc = await connectNats({ servers: "nats://10.0.0.1:4222", name: "fleet-1", auth: config.natsAuth })
 */
export async function connectNats(options: NatsConnectOptions): Promise<NatsConnection> {
  try {
    return await connect(natsConnectionOptions(options));
  } catch (error) {
    throw new Error(`cannot connect to NATS at ${options.servers}: ${describeNatsError(error)}`, { cause: error });
  }
}

function describeNatsError(error: unknown): string {
  const message = (error as Error)?.message ?? String(error);
  if (error instanceof AuthorizationError || /authori[sz]ation violation|authentication/i.test(message))
    return `the server refused the login (${message}); check NATS_USER and NATS_PASSWORD, NATS_TOKEN or NATS_CREDS_FILE`;
  if (/certificate|self.signed|tls|ssl/i.test(message)) return `TLS failed (${message}); check NATS_TLS_CA, NATS_TLS_CERT and NATS_TLS_KEY`;
  return message;
}

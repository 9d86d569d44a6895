// How an MQTT client of ours reaches the broker: MQTT 3.1.1, and for a broker like Yandex IoT
// Core (TLS on 8883) the CA to trust and either a client certificate or a username and password.
// The gateway and the simulated cabinets connect with the same options.
import type { IClientOptions } from "mqtt";

/** PEM contents (already read), never paths; empty: a plain broker without login. */
export interface MqttAuth {
  /** The CA the broker's certificate must chain to; unset: Node's bundled CAs. */
  ca?: Buffer;
  /** Client certificate and its key (a device's or a registry's), together. */
  cert?: Buffer;
  key?: Buffer;
  username?: string;
  password?: string;
}

/** URLs whose connection is TLS: a CA or a certificate means nothing on any other. */
export const isTlsUrl = (url: string) => /^(mqtts|ssl|tls|wss):\/\//i.test(url);

/**
 * mqtt.js options for `clientId` with `auth`; the broker's certificate is always verified.
 * @example mqtt.connect(url, { ...mqttConnectionOptions(`sim-1`, { ca, username, password }), reconnectPeriod: 500 })
 */
export function mqttConnectionOptions(clientId: string, auth: MqttAuth = {}): IClientOptions {
  return {
    protocolVersion: 4, // 3.1.1: what every broker here speaks (aedes has no MQTT 5)
    clientId,
    rejectUnauthorized: true,
    ...(auth.ca ? { ca: auth.ca } : {}),
    ...(auth.cert && auth.key ? { cert: auth.cert, key: auth.key } : {}),
    ...(auth.username === undefined ? {} : { username: auth.username }),
    ...(auth.password === undefined ? {} : { password: auth.password }),
  };
}

/**
 * Why a connection attempt failed, in the operator's words: a broker certificate not trusted, a
 * refused login, or the network error as it came.
 */
export function describeConnectError(error: Error & { code?: string | number }): string {
  const code = typeof error.code === "string" ? error.code : "";
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL/.test(code)) return `the broker's TLS certificate was not accepted (${code}: ${error.message})`;
  if (/not authori[sz]ed|bad username or password/i.test(error.message)) return `the broker refused the login (${error.message})`;
  return error.message;
}

// The nats-server configuration README's "Running in production" shows, for a cluster name and
// passwords of the test's own: instances may serve and send envelopes, write the KV buckets and
// use JetStream; internal subscribers may only read public events; the status publisher may only
// publish statuses. Optionally with TLS (clients must present a certificate the CA signed).

export interface NatsAccountsOptions {
  cluster: string;
  passwords: { instance: string; events: string; statuses: string };
  tls?: { cert: string; key: string; ca: string };
}

/** @example startPrivateNats({ config: natsAccountsConfig({ cluster: "fleet", passwords }) }) */
export function natsAccountsConfig({ cluster, passwords, tls }: NatsAccountsOptions): string {
  const tlsBlock = tls ? `tls { cert_file: "${tls.cert}", key_file: "${tls.key}", ca_file: "${tls.ca}", verify: true }\n` : "";
  return `${tlsBlock}accounts {
  FLEET {
    jetstream: enabled
    users: [
      { user: fleet-instance, password: "${passwords.instance}", permissions: {
          publish: { allow: ["${cluster}.actors.>", "${cluster}.events.>", "${cluster}.inspect.>", "_INBOX.>", "$JS.API.>", "$JS.ACK.>", "$JS.FC.>",
                             "$KV.${cluster}_members.>", "$KV.${cluster}_shards.>", "contractor.statuses.dead-letter"] }
          subscribe: { allow: ["${cluster}.actors.>", "${cluster}.inspect.>", "_INBOX.>"] } } }
      { user: fleet-events, password: "${passwords.events}", permissions: {
          publish: { deny: ">" }
          subscribe: { allow: ["${cluster}.events.>"] } } }
      { user: status-publisher, password: "${passwords.statuses}", permissions: {
          publish: { allow: ["contractor.statuses.events"] }
          subscribe: { deny: ">" } } }
    ]
  }
}
`;
}

// Typed failures of the cabinet device link. `code` is what the cabinet actor and http/ act on.
import { PartnerError } from "../errors.ts";

/** The device did not answer a command within the command timeout. Nothing is known to have happened. */
export class CabinetNotRespondingError extends PartnerError {
  constructor(
    readonly cabinetId: string,
    readonly command: string,
    readonly timeoutMs: number,
  ) {
    super("cabinet", "cabinet_not_responding", `cabinet ${cabinetId} did not answer ${command} within ${timeoutMs} ms`);
  }
}

/** The MQTT broker is not reachable: the command was not sent. */
export class MqttUnavailableError extends PartnerError {
  constructor(message = "the MQTT broker is not reachable", options?: { cause?: unknown }) {
    super("mqtt", "mqtt_unavailable", message, options);
  }
}

/** The request was abandoned by its caller (e.g. the actor running it stopped). */
export class CommandAbortedError extends PartnerError {
  constructor(cabinetId: string, command: string) {
    super("cabinet", "cabinet_command_aborted", `${command} to cabinet ${cabinetId} was abandoned`);
  }
}

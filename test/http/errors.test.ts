// toHttpError: the one place failures become statuses, including the cabinet refusals that are
// not conflicts (an unresponsive cabinet or broker: 503; a cabinet that did not answer: 504).
import { describe, expect, it } from "vitest";
import { ActorRefusalError, AskTimeoutError, CommitRejectedError, errorFromReply, EventRejectedError } from "../../actors/errors.ts";
import { HttpError, toHttpError } from "../../http/errors.ts";

const refusal = (code: string) => new ActorRefusalError(code, `refused: ${code}`);

describe("toHttpError", () => {
  it("cabinet refusals - unresponsive cabinet and broker down are 503, no answer in time is 504, with the code and message kept", () => {
    for (const [code, status] of [
      ["cabinet_unresponsive", 503],
      ["mqtt_unavailable", 503],
      ["cabinet_not_responding", 504],
    ] as const) {
      const mapped = toHttpError(refusal(code));
      expect(mapped.status).toBe(status);
      expect(mapped.body()).toEqual({ code, message: `refused: ${code}` });
    }
  });

  it("other refusals - not_found is 404, anything else a machine refuses is a 409 conflict", () => {
    expect(toHttpError(refusal("not_found")).status).toBe(404);
    expect(toHttpError(refusal("booking_opened")).body()).toEqual({ code: "booking_opened", message: "refused: booking_opened" });
    expect(toHttpError(refusal("booking_opened")).status).toBe(409);
    expect(toHttpError(refusal("not_enough_accumulators")).status).toBe(409);
  });

  it("runtime, partner and unknown failures", () => {
    expect(toHttpError(new AskTimeoutError("cabinet/CAB-1", 100)).status).toBe(504);
    expect(toHttpError(errorFromReply("mailing/1", "commit_rejected", "out of range")).status).toBe(422);
    // An ask its actor dropped for arriving after the deadline is a timeout like any other.
    expect(errorFromReply("mailing/1", "actor_timeout", "got it too late")).toBeInstanceOf(AskTimeoutError);
    expect(toHttpError(errorFromReply("mailing/1", "actor_timeout", "got it too late")).status).toBe(504);
    const own = new HttpError(418, "teapot", "short and stout");
    expect(toHttpError(own)).toBe(own);
    expect(toHttpError(Object.assign(new Error("down"), { code: "parks_unavailable" })).status).toBe(503);
    expect(toHttpError(Object.assign(new Error("slow"), { code: "parks_timeout" })).status).toBe(504);
    expect(toHttpError(new Error("boom")).body()).toEqual({ code: "internal", message: "internal error" });
  });

  it("runtime failures never show actor addresses, machine states or database errors: they stay in the log", () => {
    const failures = [
      new AskTimeoutError("mailing/secret-id-1", 100),
      new EventRejectedError("mailing/secret-id-1", "cancel", { sending: "delivering" }),
      new CommitRejectedError("mailing/secret-id-1", new Error('value "9999999999999999999" is out of range for type bigint')),
      errorFromReply("krt-session/secret-id-1", "actor_failed", "krt-session/secret-id-1 failed"),
    ];
    for (const failure of failures) {
      const body = JSON.stringify(toHttpError(failure).body());
      for (const internal of ["secret-id-1", "mailing/", "krt-session", "delivering", "9999", "bigint"]) expect(body).not.toContain(internal);
    }
    expect(toHttpError(failures[1]).body()).toEqual({ code: "event_rejected", message: "this request does not apply in the current state" });
  });
});

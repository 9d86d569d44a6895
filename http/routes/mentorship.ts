// Mentorship (SPEC 3.3), role driver, prefix /driver/v1/contractor-mentorship/v1: join the
// programme, the contacts of one's matchings, and marking them read. Every lookup is over all the
// caller's park bindings (driver-profiles), and he only ever sees matchings he is in.
import { Schema } from "effect";
import type { Server } from "hyper-express";
import type { ActorSystem } from "../../actors/ActorSystem.ts";
import { EventRejectedError } from "../../actors/errors.ts";
import { isTransient } from "../../integrations/errors.ts";
import type { ConfirmEvent } from "../../machines/matching.machine.ts";
import { counterpartOf, messagesOf, roleIn, VISIBLE_STATUSES } from "../../services/mentorship/contacts.ts";
import { matchingIdOf } from "../../services/mentorship/matchingId.ts";
import type { Binding, MentorshipPartners } from "../../services/mentorship/partners.ts";
import type { Sql } from "../../storage/database.ts";
import { markRead, matchingsOfDrivers, resultsOf, transitionsOf } from "../../storage/mentorshipRepository.ts";
import { conflict, notFound } from "../errors.ts";
import { route, type Identity, type RouteDeps } from "../route.ts";

const prefix = "/driver/v1/contractor-mentorship/v1";
const ReadBody = Schema.Struct({ matching_id: Schema.String.check(Schema.isUUID()) });

type Driver = Extract<Identity, { role: "driver" }>;

export interface MentorshipRouteDeps extends RouteDeps {
  system: ActorSystem;
  sql: Sql;
  partners: Pick<MentorshipPartners, "bindings" | "personal">;
  now: () => number;
}

export function mentorshipRoutes(app: Server, deps: MentorshipRouteDeps): void {
  /** The caller's bindings (his own included); 404 when driver-profiles does not know his profile. */
  async function bindingsOf(identity: Identity): Promise<readonly Binding[]> {
    const { park_id, driver_id } = identity as Driver;
    const bindings = await deps.partners.bindings.bindingsOf(park_id, driver_id);
    if (!bindings.some((b) => b.park_id === park_id && b.driver_id === driver_id)) throw notFound("driver profile");
    return bindings;
  }

  /**
   * The caller's bindings for reading contacts: with driver-profiles unreachable, only the profile
   * he asks from (his matchings under other parks' profiles are missing, and the answer says so).
   */
  async function readableBindings(identity: Identity): Promise<{ bindings: readonly Binding[]; complete: boolean }> {
    try {
      return { bindings: await bindingsOf(identity), complete: true };
    } catch (error) {
      if (!isTransient(error)) throw error;
      const { park_id, driver_id } = identity as Driver;
      return { bindings: [{ park_id, driver_id, driver_license_pd_id: null, phone_pd_id: null, name: null }], complete: false };
    }
  }

  /** The caller's live matchings with his role in each. */
  async function matchingsOf(bindings: readonly Binding[]) {
    return (await matchingsOfDrivers(deps.sql, bindings)).map((m) => ({ m, role: roleIn(m, bindings)! }));
  }

  route(app, deps, {
    method: "post",
    path: `${prefix}/confirm`,
    role: "driver",
    doc: { summary: "Join the programme as a newbie (his matching, or the one he already has)", errors: [409, 504] },
    idempotent: true,
    handle: async ({ identity }) => {
      const { park_id, driver_id } = identity as Driver;
      const bindings = await bindingsOf(identity);
      const mine = await matchingsOf(bindings);
      const own = mine.find((x) => x.role === "newbie");
      if (own) return { status: 200, body: { matching_id: own.m.id, status: own.m.status } };
      if (mine.length) throw conflict("already_mentor", "this driver mentors in the programme and cannot join it as a newbie");
      const confirm: ConfirmEvent = { type: "confirm", newbie_park_id: park_id, newbie_driver_id: driver_id };
      try {
        return { status: 200, body: await deps.system.ask(`matching/${matchingIdOf(bindings)}`, confirm) };
      } catch (error) {
        // The person's matching ended and was archived: the programme is once per newbie.
        if (error instanceof EventRejectedError) throw conflict("programme_completed", "this driver has already been through the programme");
        throw error;
      }
    },
  });

  route(app, deps, {
    method: "get",
    path: `${prefix}/contacts`,
    role: "driver",
    doc: { summary: "The caller's role, his application and the contacts of the matchings he is in" },
    handle: async ({ identity }) => {
      const { bindings, complete } = await readableBindings(identity);
      const mine = await matchingsOf(bindings);
      const visible = mine.filter((x) => VISIBLE_STATUSES.has(x.m.status));
      const ids = visible.map((x) => x.m.id);
      const [transitions, results] = await Promise.all([transitionsOf(deps.sql, ids), resultsOf(deps.sql, ids)]);
      const items = await Promise.all(
        visible.map(async ({ m, role }) => {
          const other = role === "newbie" ? { park: m.mentor_park_id!, driver: m.mentor_driver_id! } : { park: m.newbie_park_id, driver: m.newbie_driver_id };
          const counterpart = await counterpartOf(deps.partners, other.park, other.driver);
          const messages = messagesOf(
            role,
            m,
            transitions.filter((t) => t.matching_id === m.id),
            results.find((r) => r.matching_id === m.id),
            counterpart.name,
          );
          const readAt = (role === "newbie" ? m.newbie_last_read_at : m.mentor_last_read_at)?.getTime() ?? Number.NEGATIVE_INFINITY;
          return {
            matching_id: m.id,
            role,
            status: m.status,
            counterpart,
            messages,
            unread: messages.filter((x) => Date.parse(x.at) > readAt).length,
          };
        }),
      );
      const application = mine.find((x) => x.role === "newbie")?.m;
      return {
        status: 200,
        body: {
          role: application ? "newbie" : mine.length ? "mentor" : null,
          application: application ? { matching_id: application.id, status: application.status } : null,
          items,
          // `bindings`: driver-profiles did not answer, so only matchings of the calling profile are listed.
          unavailable: complete ? [] : ["bindings"],
        },
      };
    },
  });

  route(app, deps, {
    method: "post",
    path: `${prefix}/contacts/read`,
    role: "driver",
    doc: { summary: "Mark a matching's messages read", errors: [404] },
    body: ReadBody,
    handle: async ({ identity, body }) => {
      const mine = await matchingsOf(await bindingsOf(identity));
      const found = mine.find((x) => x.m.id === body.matching_id && VISIBLE_STATUSES.has(x.m.status));
      // Another driver's matching looks exactly like one that does not exist.
      if (!found) throw notFound("matching");
      const at = new Date(deps.now());
      await markRead(deps.sql, found.m.id, found.role, at);
      return { status: 200, body: { matching_id: found.m.id, role: found.role, read_at: at.toISOString() } };
    },
  });
}

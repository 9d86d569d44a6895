// krt-session/<driver_license_pd_id> as hosted by the runtime: the report bound to the KRT
// client, the backoff policy (the only one: the machine leaves `scheduleRetry` to its kind), the
// turns at the rate limit, the `profiles`/`session_statuses`/`krt_connectivity` projection and
// the public event.
import { emit, fromPromise } from "xstate";
import { defineActorKind, stateName, topState, type ActorKind } from "../../actors/ActorKind.ts";
import { setTimer } from "../../actors/protocol.ts";
import {
  isConnected,
  krtSessionMachine,
  type Connectivity,
  type KrtSessionContext,
  type SendInput,
  type SendOutput,
  ConnectivityEvent,
  BindEvent,
  RetryEvent,
  TurnEvent,
} from "../../machines/krtSession.machine.ts";
import { projectKrtSessions } from "./projection.ts";
import { personalIdHash } from "../personalIdHash.ts";
import { isTransient, PartnerError } from "../../integrations/index.ts";
import type { Krt } from "../../integrations/krt/index.ts";

export interface KrtRetryPolicy {
  /** First backoff delay; doubles per failed attempt, up to `maxMs`. */
  baseMs: number;
  maxMs: number;
}

/** 0.75..1.25, stable per actor and attempt: actors that failed together do not all retry at once. */
function jitter(id: string, attempt: number): number {
  let h = 2166136261 ^ attempt;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619);
  return 0.75 + ((h >>> 0) % 1000) / 2000;
}

/**
 * A report whose turn at the rate limit comes sooner than this waits for it in memory, as a call;
 * a later one waits asleep on a durable timer (which fires within about a second of its due time).
 * Past the limit every session has a report waiting: tens of thousands of calls held in memory,
 * each with its promise chain and invoked actor, were a third of the heap in bench:status.
 */
const WAIT_IN_MEMORY_MS = 1_000;

export function krtSessionKind(deps: { krt: Krt; now: () => number; retry: KrtRetryPolicy }): ActorKind<KrtSessionContext> {
  const { retry } = deps;
  const machine = krtSessionMachine.provide({
    actors: {
      sendConnectivity: fromPromise(async ({ input, signal }: { input: SendInput; signal: AbortSignal }): Promise<SendOutput> => {
        try {
          // The signal aborts when the actor stops (handover, shutdown): a report still waiting its turn
          // is dropped, never sent after the shard's next host sent a newer one.
          const session = await deps.krt.sendConnectivity({ id: input.deptrans_id, connected: input.connected, at: input.at }, signal);
          return {
            outcome: "answered",
            session: { status: session.status, ended_at: session.ended_at === null ? null : Date.parse(session.ended_at) },
            at: deps.now(),
          };
        } catch (error) {
          // Outages are retried (thrown: the machine backs off); a refusal will not change by retrying.
          if (isTransient(error) || !(error instanceof PartnerError)) throw error;
          return { outcome: "rejected", reason: error.code, at: deps.now() };
        }
      }),
    },
    guards: {
      reportWaits: () => deps.krt.reportWaitMs() > WAIT_IN_MEMORY_MS,
    },
    actions: {
      awaitTurn: emit(() => setTimer("turn", Math.ceil(deps.krt.promiseReportTurn()), { type: "turn" })),
      scheduleRetry: emit(({ context }) =>
        setTimer("retry", Math.round(Math.min(retry.maxMs, retry.baseMs * 2 ** (context.attempt - 1)) * jitter(context.id, context.attempt)), {
          type: "retry",
        }),
      ),
    },
  });
  return defineActorKind<KrtSessionContext>({
    type: "krt-session",
    events: [ConnectivityEvent, BindEvent, RetryEvent, TurnEvent],
    machine,
    // 2: `profiles` a list of { profile, connected, at } (was a record keyed by profile).
    version: 2,
    migrate: profilesAsList,
    // A redelivered status is refused by its own time (not newer than the profile's), whatever its
    // id; the few ids kept catch a timer fired twice. Every commit writes them: ~35 bytes each.
    rememberedIds: 4,
    // KRT mostly answers within milliseconds: the status that starts a report and KRT's answer
    // land in one commit (the status's ack waits for it). A call waiting for the rate limit or an
    // outage is committed in flight after this, as before.
    commitAfterWorkMs: 200,
    // Statuses wait out a debounce window of about a second before they get here: waiting 50 ms
    // more for company lets a low rate share its commits' round trips (KRT hears no later: the
    // report starts with the turn, not the commit).
    commitLingerMs: 50,
    // KRT's id of a person stays in the session's snapshot and rows; its history keeps a hash.
    journaled: (event) => (typeof event.deptrans_id === "string" ? { ...event, deptrans_id: personalIdHash(event.deptrans_id) } : event),
    project: projectKrtSessions,
    // Most turns only absorb a status: the bound id, the session and whether the person works are
    // all the projection reads. A bound person's connectivity is KRT's confirmed one: it changes
    // with KRT's answer, which mostly changes the session too (no projection of its own).
    projected: ({ context: c }) => [c.deptrans_id, c.bound_at, c.session?.seq ?? null, isConnected(c)],
    // Each report to KRT passes through `bound.sending`: an event goes out when what it says
    // changes (bound, confirmed connectivity, KRT's session, reports failing or working again).
    published: ({ value, context: c }) => [
      topState(value),
      c.deptrans_id !== null,
      c.last_sent?.connected ?? null,
      c.session?.status ?? null,
      c.session?.ended_at ?? null,
      stateName(value) === "bound.backoff",
    ],
    publicEvent: ({ context: c }) => ({
      bound: c.deptrans_id !== null,
      connected: c.last_sent?.connected ?? null,
      session_status: c.session?.status ?? null,
      ended_at: c.session?.ended_at == null ? null : new Date(c.session.ended_at).toISOString(),
    }),
  });
}

/** A snapshot of machine version 1 kept `profiles` as a record keyed by `park_id/driver_id`. */
// biome-ignore lint/suspicious/noExplicitAny: a snapshot of an older machine version has, by definition, no type of today's code.
function profilesAsList(snapshot: any): any {
  const profiles = snapshot.context?.profiles;
  if (Array.isArray(profiles)) return snapshot;
  const list = Object.entries((profiles ?? {}) as Record<string, Connectivity>).map(([profile, c]) => ({ profile, connected: c.connected, at: c.at }));
  return { ...snapshot, context: { ...snapshot.context, profiles: list } };
}

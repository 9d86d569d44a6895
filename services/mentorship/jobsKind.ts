// mentorship-job/<name>: mentorship's periodic work as cluster singletons (one home in the
// cluster, never passivated): the CRM matching import, the promocode import and the retention
// sweep, each run on its durable timer (the runtime's clock) and idempotent across retries.
import { emit, fromPromise } from "xstate";
import { defineActorKind, type ActorKind } from "../../actors/ActorKind.ts";
import { setTimer } from "../../actors/protocol.ts";
import { periodicMachine, type PeriodicContext } from "../../machines/periodic.machine.ts";

export interface Job {
  /** Runtime-clock time between the end of one run and the start of the next. */
  everyMs: number;
  /** One run; resolves with how much it handled. Must be safe to run again after a crash mid-run. */
  run(signal: AbortSignal): Promise<number>;
}

export function mentorshipJobsKind(deps: { jobs: Readonly<Record<string, Job>>; now: () => number }): ActorKind<PeriodicContext> {
  const { jobs, now } = deps;
  const jobOf = (id: string) => {
    const job = jobs[id];
    if (!job) throw new Error(`no mentorship job ${id}`);
    return job;
  };
  const machine = periodicMachine.provide({
    actors: {
      run: fromPromise(async ({ input, signal }: { input: { id: string }; signal: AbortSignal }) => ({ count: await jobOf(input.id).run(signal), at: now() })),
    },
    actions: {
      scheduleNext: emit(({ context }) => setTimer("tick", jobOf(context.id).everyMs, { type: "tick" })),
    },
  });
  return defineActorKind<PeriodicContext>({
    type: "mentorship-job",
    machine,
    version: 1,
    rememberedIds: 8,
    singletons: Object.keys(jobs),
  });
}

// What a driver sees of his matchings (SPEC 3.3 `GET /contacts`): per matching his role, the
// counterpart (name from driver-profiles, phone from personal: fetched now, never stored), a
// WhatsApp deeplink, the status, the messages each status brings him and how many he has not read.
// A source down leaves that field null and names it in `unavailable`; the contacts still answer.
import type { MatchingRecord, ResultsRow, StatusTransitionRow } from "../../storage/mentorshipRepository.ts";
import type { Binding, MentorshipPartners } from "./partners.ts";

export type Role = "newbie" | "mentor";

/** Statuses whose matchings a driver sees as contacts (the seed's list): the pair exists and both were told. */
export const VISIBLE_STATUSES: ReadonlySet<string> = new Set(["initialized", "in_progress", "finished", "succeed"]);

const isOneOf = (bindings: readonly Binding[], parkId: string | null, driverId: string | null) =>
  bindings.some((b) => b.park_id === parkId && b.driver_id === driverId);

/** The caller's role in a matching, or undefined when none of his bindings is in it. */
export function roleIn(m: MatchingRecord, bindings: readonly Binding[]): Role | undefined {
  if (isOneOf(bindings, m.newbie_park_id, m.newbie_driver_id)) return "newbie";
  if (isOneOf(bindings, m.mentor_park_id, m.mentor_driver_id)) return "mentor";
  return undefined;
}

export interface Message {
  status: string;
  text: string;
  at: string;
}

const figure = (value: string | null | undefined) => value ?? "n/a";

/** The text a status brings each side; none for statuses that tell that side nothing. */
function textOf(status: string, role: Role, who: string, m: MatchingRecord, r: ResultsRow | undefined): string | undefined {
  if (role === "newbie") {
    if (status === "initialized") return `Your mentor is ${who}. Write to them on WhatsApp: they will help you through your first weeks.`;
    if (status === "finished") return "Two weeks done: the mentorship programme is over. Thank you for taking part!";
    return undefined;
  }
  if (status === "initialized") return `Your newbie is ${who}. Write to them on WhatsApp and help them through their first weeks.`;
  if (status === "in_progress")
    return `${who} after 7 days: rating ${figure(r?.rate_avg_7d)}, activity ${figure(r?.avg_dp_7d)}, supply hours ${figure(r?.sh_7d)}.`;
  if (status === "finished")
    return `${who} after 14 days: rating ${figure(r?.rate_avg_14d)}, activity ${figure(r?.avg_dp_14d)}, supply hours ${figure(r?.sh_14d)}, test passed: ${figure(r?.passed_test_flg)}.`;
  if (status === "succeed") return `Thank you for mentoring ${who}! Your promocode: ${m.mentor_promocode ?? "n/a"}.`;
  return undefined;
}

/** The messages of one matching for one side, oldest first: one per status change that tells that side something. */
export function messagesOf(
  role: Role,
  m: MatchingRecord,
  transitions: readonly StatusTransitionRow[],
  result: ResultsRow | undefined,
  who: string | null,
): Message[] {
  const name = who ?? (role === "newbie" ? "your mentor" : "your newbie");
  return transitions.flatMap((t) => {
    const text = textOf(t.to, role, name, m, result);
    return text === undefined ? [] : [{ status: t.to, text, at: t.created_at.toISOString() }];
  });
}

/** `https://wa.me/<digits>` for an E.164 phone. */
export const whatsappLink = (phone: string) => `https://wa.me/${phone.replace(/\D/g, "")}`;

export interface Counterpart {
  park_id: string;
  driver_id: string;
  name: string | null;
  phone: string | null;
  whatsapp: string | null;
  /** Fields left null because their source did not answer (`name`: driver-profiles, `phone`: personal). */
  unavailable: ("name" | "phone")[];
}

/**
 * The counterpart as the caller may see him now: name and phone id from driver-profiles, the phone
 * from personal. A source that fails leaves its field null and is named in `unavailable`.
 */
export async function counterpartOf(partners: Pick<MentorshipPartners, "bindings" | "personal">, parkId: string, driverId: string): Promise<Counterpart> {
  const unavailable: Counterpart["unavailable"] = [];
  let profile: Binding | undefined;
  try {
    profile = (await partners.bindings.bindingsOf(parkId, driverId)).find((b) => b.park_id === parkId && b.driver_id === driverId);
  } catch {
    unavailable.push("name", "phone");
  }
  let phone: string | null = null;
  if (profile?.phone_pd_id) {
    try {
      phone = (await partners.personal.retrieve("phones", profile.phone_pd_id)) ?? null;
    } catch {
      unavailable.push("phone");
    }
  }
  return { park_id: parkId, driver_id: driverId, name: profile?.name ?? null, phone, whatsapp: phone === null ? null : whatsappLink(phone), unavailable };
}

// Demo data for `npm start`: a newbie (park-1/newbie-1) in Moscow driving a park car and a mentor
// (park-1/mentor-1, the CRM simulator's mentor pool), with names and phones, so the banner's
// confirm leads to a pairing within seconds.
import { pointIn } from "../../integrations/trackstory/index.ts";
import type { MentorshipSimulators } from "./partnerClients.ts";

export const DEMO_NEWBIE = { park_id: "park-1", driver_id: "newbie-1" } as const;
export const DEMO_MENTOR = { park_id: "park-1", driver_id: "mentor-1" } as const;

export function seedMentorshipDemo(simulators: MentorshipSimulators): void {
  const people = [
    { ...DEMO_NEWBIE, name: "Ivan Novikov", phone: "+79160000001", licence: "pd-licence-newbie-1" },
    { ...DEMO_MENTOR, name: "Anna Mentorova", phone: "+79160000002", licence: "pd-licence-mentor-1" },
  ];
  for (const p of people) {
    const phone = simulators.mentorPersonal?.preload("phones", p.phone) ?? null;
    simulators.mentorProfiles?.upsert([{ park_id: p.park_id, driver_id: p.driver_id, driver_license_pd_id: p.licence, phone_pd_id: phone, name: p.name }]);
  }
  simulators.mentorTrackstory?.move([{ ...DEMO_NEWBIE, ...pointIn("moscow") }]);
  simulators.fleetRent?.set([{ ...DEMO_NEWBIE, rented: true }]);
}

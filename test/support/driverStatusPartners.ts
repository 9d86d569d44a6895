// The five partners of the driver-status service as simulators in one bundle, with the settings
// that point an instance at them. For runs whose instances are processes of their own (tests that
// kill an instance mid-stream, the bench): the partners outlive any instance.
import { startKrtSimulator, type KrtSimulator } from "../../integrations/krt/index.ts";
import { startDriverProfilesSimulator, type DriverProfilesSimulator } from "../../integrations/driverProfiles/index.ts";
import { startDriverCategoriesSimulator, type DriverCategoriesSimulator } from "../../integrations/driverCategories/index.ts";
import { startTrackstorySimulator, type TrackstorySimulator } from "../../integrations/trackstory/index.ts";
import { startPersonalSimulator, type PersonalSimulator } from "../../integrations/personal/index.ts";

/** The instance settings naming the partners' URLs. */
export interface DriverStatusPartnerUrls {
  KRT_URL: string;
  KRT_CLIENT_SECRET: string;
  DRIVER_PROFILES_URL: string;
  DRIVER_CATEGORIES_URL: string;
  TRACKSTORY_URL: string;
  PERSONAL_URL: string;
}

export interface DriverStatusPartners {
  krt: KrtSimulator;
  profiles: DriverProfilesSimulator;
  categories: DriverCategoriesSimulator;
  trackstory: TrackstorySimulator;
  personal: PersonalSimulator;
  env: DriverStatusPartnerUrls;
  close(): Promise<void>;
}

const KRT_SECRET = "partners-krt-secret";

/**
 * @example const partners = await startDriverStatusPartners(); spawnInstance({ ...partners.env }); ...; await partners.close()
 */
export async function startDriverStatusPartners(): Promise<DriverStatusPartners> {
  const [krt, profiles, categories, trackstory, personal] = await Promise.all([
    startKrtSimulator({ clientSecret: KRT_SECRET }),
    startDriverProfilesSimulator(),
    startDriverCategoriesSimulator(),
    startTrackstorySimulator(),
    startPersonalSimulator(),
  ]);
  return {
    krt,
    profiles,
    categories,
    trackstory,
    personal,
    env: {
      KRT_URL: krt.url,
      KRT_CLIENT_SECRET: KRT_SECRET,
      DRIVER_PROFILES_URL: profiles.url,
      DRIVER_CATEGORIES_URL: categories.url,
      TRACKSTORY_URL: trackstory.url,
      PERSONAL_URL: personal.url,
    },
    close: async () => void (await Promise.all([krt, profiles, categories, trackstory, personal].map((s) => s.close()))),
  };
}

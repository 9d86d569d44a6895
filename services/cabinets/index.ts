// Battery cabinets and accumulators (SPEC 3.1, seed 002): cabinet and accumulator actors, the MQTT
// device gateway (or, with MQTT_URL unset, an embedded broker with simulated cabinets), polling,
// and the /scooter-accumulator/v1 routes.
import { Subject } from "rxjs";
import { cabinetRoutes, type CabinetPolicy } from "../../http/routes/cabinets/index.ts";
import type { CabinetGateway } from "../../integrations/cabinet/index.ts";
import type { Service, ServiceContext } from "../Service.ts";
import { accumulatorKind } from "./accumulatorKind.ts";
import { cabinetKind } from "./cabinetKind.ts";
import { cabinetsConfig } from "./config.ts";
import { type CabinetDevicesLink, connectDevices, forwardDeviceEvents, startPolling } from "./devices.ts";
import { accumulatorGauges } from "./metrics.ts";

export interface CabinetService extends Service {
  /** Started only when MQTT_URL is unset. */
  simulators: CabinetDevicesLink["simulators"];
  gateway: CabinetGateway;
}

export async function cabinetService(ctx: ServiceContext): Promise<CabinetService> {
  const config = cabinetsConfig(ctx.config.env);
  const { commandTimeoutMs } = config;
  const policy: CabinetPolicy = { bookingTtlMs: config.bookingTtlMs, commandTimeoutMs, chargedMinCharge: config.chargedMinCharge };
  const { gateway, simulators } = await connectDevices(ctx, config);
  const now = () => ctx.clock.now();

  return {
    name: "cabinets",
    kinds: [cabinetKind({ devices: gateway, now }), accumulatorKind()],
    simulators,
    gateway,
    checks: [{ name: "mqtt", check: () => gateway.check() }],
    attach: async (system, app, deps) => {
      const registered = new Subject<string>();
      cabinetRoutes(app, { ...deps, system, policy, now: () => ctx.clock.now(), registered: (id) => registered.next(id), broker: gateway });
      forwardDeviceEvents(ctx, system, gateway, commandTimeoutMs);
      startPolling(ctx, system, gateway, registered, config);
      accumulatorGauges(ctx);
      if (simulators.cabinets) {
        for (const spec of simulators.cabinets.cabinets.values()) {
          await system.ask(`cabinet/${spec.id}`, { type: "register", lat: spec.spec.lat, lon: spec.spec.lon });
          registered.next(spec.id);
        }
      }
    },
  };
}

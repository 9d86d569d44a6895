// The hyper-express server of an instance: ops routes, one route module per service, a JSON
// 404 and error handler.
import HyperExpress from "hyper-express";
import type { RouteDeps } from "./route.ts";
import { httpMetrics } from "./metrics.ts";
import { opsRoutes, type OpsDeps } from "./routes/ops.ts";
import { limitRequestHead } from "./requestLimits.ts";
import { apiDocsRoutes } from "./routes/apiDocs.ts";
import { inspectorPageRoutes } from "./routes/inspectorPage.ts";

export interface HttpServer {
  app: HyperExpress.Server;
  deps: RouteDeps;
  listen(port: number, host: string): Promise<number>;
  close(): Promise<void>;
}

export function createHttpServer(options: Omit<RouteDeps, "metrics" | "catalog" | "tag"> & OpsDeps): HttpServer {
  // Bodies are limited per request in route.ts (JSON 413); this cap only stops absurd uploads early.
  // auto_close off: the instance closes the server in its graceful stop (main.ts on SIGTERM/SIGINT).
  // hyper-express's own would close it at the signal, under requests still in flight, and adds
  // five process listeners per server that are never removed.
  const app = new HyperExpress.Server({ max_body_length: options.bodyLimitBytes * 16, auto_close: false });
  const deps: RouteDeps = { ...options, metrics: httpMetrics(options.registry), catalog: [] };
  app.use(limitRequestHead);
  opsRoutes(app, options);
  apiDocsRoutes(app, deps.catalog);
  inspectorPageRoutes(app);
  app.set_not_found_handler((_req, res) => {
    res.status(404).json({ code: "not_found", message: "no such route" });
  });
  app.set_error_handler((_req, res, error) => {
    options.logger.error("unhandled route error", { error: String(error) });
    res.status(500).json({ code: "internal", message: "internal error" });
  });
  return {
    app,
    deps,
    listen: async (port, host) => {
      await app.listen(port, host);
      return (app as unknown as { port: number }).port;
    },
    close: async () => {
      await app.shutdown();
    },
  };
}

import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../common/logger";
import type { ServiceMetrics } from "../metrics/service-metrics";

/** The metrics' own HTTP listener: `GET /metrics` in Prometheus' text format, nothing else. */
export interface MetricsServer {
  /** http://localhost:port/metrics */
  url: string;
  stop(): Promise<void>;
}

/**
 * Serves the metrics on a port of their own (METRICS_PORT): the API's port
 * faces clients, this one the operator's scraper, and it answers without a
 * token, so it belongs inside the operator's network.
 */
export async function startMetricsServer(metrics: ServiceMetrics, port: number, logger: Logger): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    if (req.method !== "GET" || req.url?.split("?")[0] !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain", "x-content-type-options": "nosniff" }).end("Not found: the metrics are at /metrics.");
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": metrics.registry.contentType, "x-content-type-options": "nosniff" }).end(text),
      (error: unknown) => {
        logger.error({ err: error }, "metrics: could not collect them");
        res.writeHead(500, { "content-type": "text/plain" }).end("The metrics could not be collected.");
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://localhost:${bound}/metrics`,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

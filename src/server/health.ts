import { Router } from "express";
import type { DataSource } from "typeorm";
import { settleWithin } from "../common/deadline";
import { pingDatabase } from "../database/setup";
import type { EventBus } from "../live-tail/event-bus";

/** How long /readyz waits for the database. */
const READY_TIMEOUT_MS = 2_000;

/**
 * `/healthz`: the process is up. `/readyz`: what the instance can serve. The
 * database down is 503; Redis down (when configured) is 200 "degraded":
 * recording goes on and the live tail reads new events from the database.
 */
export function healthRouter(dataSource: DataSource, bus: EventBus): Router {
  const router = Router();
  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  router.get("/readyz", async (_req, res) => {
    const [database, redis] = await Promise.all([
      settleWithin(pingDatabase(dataSource).then(() => true), READY_TIMEOUT_MS, false),
      bus.redisAnswers(),
    ]);
    const status = !database ? "unavailable" : redis === false ? "degraded" : "ready";
    res.status(database ? 200 : 503).json({
      status,
      database: database ? "up" : "down",
      ...(redis === null ? {} : { redis: redis ? "up" : "down" }),
    });
  });
  return router;
}

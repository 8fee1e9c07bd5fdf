import { existsSync } from "node:fs";
import path from "node:path";
import express, { Router } from "express";
import { GRAPHIQL_CONTENT_SECURITY_POLICY } from "./security-headers";

/** The project root: the nearest folder above this file with a package.json (from src/ or dist/src/). */
function projectRoot(): string {
  let dir = __dirname;
  while (!existsSync(path.join(dir, "package.json")) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

/** Where `npm run build` puts the GraphiQL bundle (built from ui/, never committed). */
export const GRAPHIQL_DIR = path.join(projectRoot(), "dist", "ui");

/**
 * GraphiQL, self-hosted: a browser's GET /graphql (Accept: text/html) gets the
 * page, its assets come from /graphiql/. API clients' GETs go on to Apollo.
 */
export function graphiqlRouter(): Router {
  const router = Router();
  const page = path.join(GRAPHIQL_DIR, "index.html");
  router.get("/graphql", (req, res, next) => {
    if (req.query.query !== undefined || req.accepts(["application/json", "text/html"]) !== "text/html") return next();
    if (!existsSync(page)) {
      res.status(404).type("text/plain").send("GraphiQL is not built: run `npm run build` (npm start does it).");
      return;
    }
    res.set({ "Cache-Control": "no-cache", "Content-Security-Policy": GRAPHIQL_CONTENT_SECURITY_POLICY }).sendFile(page);
  });
  router.use(
    "/graphiql",
    (_req, res, next) => {
      res.set("Content-Security-Policy", GRAPHIQL_CONTENT_SECURITY_POLICY);
      next();
    },
    express.static(GRAPHIQL_DIR, { index: false, maxAge: "1y", immutable: true }),
  );
  return router;
}

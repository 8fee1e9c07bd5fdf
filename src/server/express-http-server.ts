import http from "node:http";
import type { Express } from "express";

/**
 * The HTTP server for an Express app, creating each request and response
 * with the app's own prototypes (`app.request`, `app.response`) from the
 * start.
 *
 * Express gives every request and response those prototypes when it
 * receives them (`Object.setPrototypeOf`). After that switch V8 keeps what a
 * request allocates alive through young-generation collections: each one
 * copied and promoted the requests' objects, took milliseconds, and filled
 * the old generation with them (docs/performance.md). Created with the right
 * prototypes, Express's switch changes nothing.
 */
export function createExpressHttpServer(app: Express): http.Server {
  const IncomingMessage = withPrototype(http.IncomingMessage, app.request);
  const ServerResponse = withPrototype(http.ServerResponse, app.response);
  // Node's own constructors are plain functions, which a constructor of another prototype can call on its instance; should they become classes, the server is built as Express builds it.
  if (!IncomingMessage || !ServerResponse) return http.createServer(app);
  return http.createServer({ IncomingMessage, ServerResponse }, app);
}

/** A constructor whose instances are built by `base`, with `prototype` as their prototype; undefined when `base` is a class. */
function withPrototype<T extends abstract new (...args: never[]) => object>(base: T, prototype: object): T | undefined {
  if (Function.prototype.toString.call(base).startsWith("class")) return undefined;
  function Created(this: object, ...args: unknown[]): void {
    Reflect.apply(base, this, args);
  }
  Created.prototype = prototype;
  return Created as unknown as T;
}

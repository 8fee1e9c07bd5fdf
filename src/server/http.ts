import type { ApolloServer } from "@apollo/server";
import { expressMiddleware } from "@as-integrations/express5";
import express, { ErrorRequestHandler, RequestHandler, Router } from "express";
import { checkDocumentLimits, DocumentLimits } from "../common/document-limits";
import { SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS, ServiceUnavailableError } from "../common/errors";
import type { Logger } from "../common/logger";
import type { AppContext, ContextFactory } from "./context";

/** Largest accepted HTTP request body: a batch of 1000 events is about 0.5 MB. */
const MAX_BODY = "2mb";

/**
 * POST and GET `/graphql`: the request id, the JSON body, then Apollo with
 * the context the token gives; body errors answer as JSON.
 */
export function graphqlHttpRouter(
  apollo: ApolloServer<AppContext>,
  contexts: ContextFactory,
  options: { limits: DocumentLimits; requestTimeoutMs: number },
  logger: Logger,
): Router {
  const { limits } = options;
  const router = Router();
  router.use(
    "/graphql",
    requestIdMiddleware(contexts),
    requestDeadline(options.requestTimeoutMs, logger),
    express.json({ limit: MAX_BODY }),
    expressMiddleware(apollo, {
      context: async ({ req, res }) => {
        const query = req.method === "GET" ? req.query.query : (req.body as { query?: unknown } | undefined)?.query;
        // Before Apollo parses the document: the context is built first, and an error building it is the request's answer.
        if (typeof query === "string") checkDocumentLimits(query, limits);
        return contexts.forHttp({ authorization: req.headers.authorization, query, requestId: String(res.getHeader("x-request-id")) });
      },
    }),
  );
  router.use(bodyErrorHandler(logger));
  return router;
}

/** Every response carries `x-request-id`, the id its logs are written under. */
function requestIdMiddleware(contexts: ContextFactory): RequestHandler {
  return (req, res, next) => {
    res.setHeader("x-request-id", contexts.newRequestId(req.headers["x-request-id"]));
    next();
  };
}

/**
 * Answers SERVICE_UNAVAILABLE (503) to a request not answered within `ms`.
 * The operation runs on until its statements end by their own bounds; what
 * it writes then goes nowhere, as the client has its answer.
 */
function requestDeadline(ms: number, logger: Logger): RequestHandler {
  return (req, res, next) => {
    const timer = setTimeout(() => {
      if (res.headersSent) return;
      logger.warn({ requestId: res.getHeader("x-request-id"), timeoutMs: ms }, "request answered at its deadline, before its operation ended");
      const error = ServiceUnavailableError.pastDeadline(ms);
      res
        .status(503)
        .set("Retry-After", String(SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS))
        .json({ errors: [{ message: error.message, extensions: { code: error.code, requestId: res.getHeader("x-request-id") } }] });
      // The late answer: headers and body are dropped rather than thrown on a response already sent.
      res.setHeader = () => res;
      res.writeHead = () => res;
      res.write = () => true;
      res.end = () => res;
    }, ms);
    const done = () => clearTimeout(timer);
    res.once("finish", done);
    res.once("close", done);
    next();
  };
}

/** Body parsing failures: a clear JSON error instead of Express's HTML page. */
function bodyErrorHandler(logger: Logger): ErrorRequestHandler {
  return (error, _req, res, next) => {
    if (res.headersSent) return next(error);
    const status = typeof error?.status === "number" ? error.status : 500;
    if (status === 413) {
      res.status(413).json({
        errors: [{ message: `The request body is larger than the ${MAX_BODY.toUpperCase()} limit; send fewer events per call.`, extensions: { code: "PAYLOAD_TOO_LARGE" } }],
      });
      return;
    }
    if (status === 400) {
      res.status(400).json({ errors: [{ message: "The request body is not valid JSON.", extensions: { code: "BAD_REQUEST" } }] });
      return;
    }
    logger.error({ err: error }, "unexpected HTTP error");
    res.status(500).json({ errors: [{ message: "Internal server error", extensions: { code: "INTERNAL_SERVER_ERROR" } }] });
  };
}

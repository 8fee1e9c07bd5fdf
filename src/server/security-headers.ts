import type { RequestHandler } from "express";

/**
 * What every response carries: no MIME sniffing, no referrer, no framing,
 * and a policy that lets an answer load nothing (the API answers JSON, which
 * needs no script, style or connection of its own).
 */
const EVERY_RESPONSE: Readonly<Record<string, string>> = {
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
  "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
};

/**
 * The GraphiQL page and its assets (its editor's workers run under their
 * script's policy): scripts, workers, fonts and connections of this origin
 * only (WebSocket included), styles of this origin and the inline ones its
 * editor sets, images of this origin and data URLs. Nothing from elsewhere,
 * no eval, no framing.
 */
export const GRAPHIQL_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "worker-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "font-src 'self' data:",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join("; ");

/** Sets {@link EVERY_RESPONSE} on every response; the GraphiQL router replaces the policy for its page. */
export function securityHeaders(): RequestHandler {
  return (_req, res, next) => {
    res.set(EVERY_RESPONSE);
    next();
  };
}

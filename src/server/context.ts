import { randomUUID } from "node:crypto";
import { isIntrospectionOnly } from "../auth/introspection";
import { Principal, Role } from "../auth/principal";
import type { ThrottleStatus } from "../limits/cost-budget";
import type { TokenVerifier } from "../auth/tokens";
import { AuthenticationError } from "../common/errors";
import type { Logger } from "../common/logger";
import { createDirectoryLoaders, createEmptyDirectoryLoaders, DirectoryLoaders } from "../directory/directory.loaders";
import type { LiveTailService } from "../live-tail/live-tail.service";
import type { TailConnection } from "../live-tail/shared-execution";
import type { AppServices } from "./app-services";

/** What every resolver gets, over HTTP and WebSocket alike. */
export interface AppContext {
  requestId: string;
  /** Null only for an introspection request without a token. */
  principal: Principal | null;
  /** Per-request DataLoaders, bound to the caller's workspace; null without a principal. */
  loaders: DirectoryLoaders | null;
  logger: Logger;
  /**
   * The live tail, for subscriptions: type-graphql calls a subscription's
   * `subscribe` with the context alone, not with its resolver, so this is the
   * one service that reaches resolvers through the context.
   */
  liveTail: LiveTailService;
  /** The WebSocket an operation runs on; null over HTTP. */
  connection: TailConnection | null;
  /** What the response's `extensions` carry besides the result, set while the operation runs. */
  responseExtensions: ResponseExtensions;
}

/** The `extensions` a response may carry. */
export interface ResponseExtensions {
  /** Words of a workspace log's search that could not narrow it and were left out, as typed. */
  searchIgnoredWords?: string[];
  /**
   * What the query or mutation cost, in points, the most one may cost (see
   * src/limits/operation-cost.ts), and the caller's budget after it (see
   * src/limits/cost-budget.ts).
   */
  cost?: { requested: number; limit: number; throttleStatus?: ThrottleStatus };
}

/** Adds words to the response's `searchIgnoredWords`, once each: an operation may search more than one page. */
export function noteIgnoredSearchWords(context: AppContext, words: readonly string[]): void {
  if (words.length === 0) return;
  const extensions = context.responseExtensions;
  extensions.searchIgnoredWords = [...new Set([...(extensions.searchIgnoredWords ?? []), ...words])];
}

/** The caller and their loaders, for fields that require a token (all but introspection). */
export function authenticated(context: AppContext): { principal: Principal; loaders: DirectoryLoaders } {
  if (!context.principal || !context.loaders) throw new AuthenticationError();
  return { principal: context.principal, loaders: context.loaders };
}

export interface ContextFactoryOptions {
  verifier: TokenVerifier;
  services: AppServices;
  logger: Logger;
  /** Whether a caller without a token may run introspection queries. */
  introspection: boolean;
}

/** A request id from the client is kept when it is short and plain; otherwise a new one is made. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** The one place that builds the GraphQL context, for HTTP requests and WebSocket operations. */
export class ContextFactory {
  constructor(private readonly options: ContextFactoryOptions) {}

  newRequestId(fromClient?: unknown): string {
    return typeof fromClient === "string" && REQUEST_ID.test(fromClient) ? fromClient : randomUUID();
  }

  /**
   * An HTTP request: the bearer token decides who calls. Without one, only an
   * introspection query passes, and only while introspection is on.
   */
  async forHttp(request: { authorization?: string; query: unknown; requestId: string }): Promise<AppContext> {
    if (request.authorization === undefined || request.authorization.trim() === "") {
      if (this.options.introspection && isIntrospectionOnly(request.query)) return this.build(null, request.requestId, null);
      throw new AuthenticationError("A bearer token is required.");
    }
    const principal = await this.options.verifier.verify(request.authorization);
    return this.build(principal, request.requestId, null);
  }

  /** The principal a WebSocket connection authenticated with at connect. */
  async authenticateConnection(authorization: unknown): Promise<Principal> {
    return this.options.verifier.verify(typeof authorization === "string" ? authorization : undefined);
  }

  /**
   * One operation on an authenticated WebSocket connection. A subscription's
   * context lives as long as the subscription, so its loaders batch but do
   * not cache: each delivery sees the directory as it is then.
   */
  forWebSocket(principal: Principal, requestId: string, connection: TailConnection): AppContext {
    return this.build(principal, requestId, connection);
  }

  private build(principal: Principal | null, requestId: string, connection: TailConnection | null): AppContext {
    return {
      requestId,
      principal,
      loaders: principal ? this.loadersFor(principal, connection) : null,
      logger: this.options.logger.child({ requestId }),
      liveTail: this.options.services.liveTail,
      connection,
      responseExtensions: {},
    };
  }

  private loadersFor(principal: Principal, connection: TailConnection | null): DirectoryLoaders {
    if (principal.role === Role.SERVICE) return createEmptyDirectoryLoaders();
    return createDirectoryLoaders(this.options.services.directory, principal.workspaceId, { cache: connection === null });
  }
}

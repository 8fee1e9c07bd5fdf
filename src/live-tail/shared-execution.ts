import {
  createSourceEventStream,
  execute,
  ExecutionArgs,
  ExecutionResult,
  GraphQLError,
  print,
} from "graphql";
import type { Principal, Role } from "../auth/principal";
import { TokenVerifier } from "../auth/tokens";
import { AuthenticationError } from "../common/errors";
import { PerObjectMemo } from "../common/per-object-memo";
import type { AuditEventEdge } from "../logs/audit-log.types";
import type { AppContext } from "../server/context";

/**
 * graphql-js executes a subscription's selection once per subscriber per
 * event. Subscribers of one process that run the same operation (same text,
 * same variables) with the same authorization on the same stored event get
 * the same result, so it is computed once and shared: a thousand agents
 * watching one conversation cost one execution per event, not a thousand.
 *
 * Sharing keys on the event record, which a workspace stream hands to all its
 * subscribers as one object; a result is dropped with its record. Whether a
 * token has expired is the one thing about a subscriber a shared result must
 * not depend on: each subscriber's own expiry is checked at its delivery.
 */
export class SharedSubscriptionExecution {
  private readonly results = new PerObjectMemo<Promise<ExecutionResult>>();

  /** graphql-ws's `subscribe`: the source stream of graphql-js, each event executed once per operation and authorization. */
  readonly subscribe = async (args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> => {
    const source = await createSourceEventStream(args);
    if (!isAsyncIterable(source)) return source as ExecutionResult;
    const { principal } = args.contextValue as AppContext;
    if (!principal) throw new AuthenticationError();
    const operation = `${JSON.stringify([...authorizationOf(principal), args.operationName ?? "", args.variableValues ?? {}])}\n${print(args.document)}`;
    return new SubscriberDelivery(source[Symbol.asyncIterator](), principal, (payload) => this.execute(args, payload, operation));
  };

  private execute(args: ExecutionArgs, payload: unknown, operation: string): Promise<ExecutionResult> {
    const node = (payload as AuditEventEdge | undefined)?.node as object | undefined;
    const run = async () => execute({ ...args, rootValue: payload });
    if (!node || typeof node !== "object") return run();
    return this.results.get(node, operation, run);
  }
}

/**
 * Everything a subscription's execution reads of its caller: the role (the
 * auth checker) and the workspace (every loader and query). A field that
 * comes to read more of the principal must add it here, or one caller's
 * result would reach another.
 */
function authorizationOf(principal: Principal): [workspaceId: string, role: Role] {
  return [principal.workspaceId, principal.role];
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === "object" && value !== null && typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === "function";
}

/**
 * One subscriber's results: each source event mapped to a result, delivered
 * only while the subscriber's own token is current. Once it has expired, the
 * subscription ends with one UNAUTHENTICATED error (graphql-ws then sends
 * `complete`), and its source ends with it.
 *
 * Not an async generator: return() must reach the source at once, even while
 * next() waits for an event, so that a tail ends as soon as its client leaves.
 */
class SubscriberDelivery implements AsyncIterableIterator<ExecutionResult> {
  private ended = false;

  constructor(
    private readonly source: AsyncIterator<unknown>,
    private readonly principal: Principal,
    private readonly map: (payload: unknown) => Promise<ExecutionResult>,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<ExecutionResult>> {
    if (this.ended) return { value: undefined, done: true };
    const { value, done } = await this.source.next();
    if (done) return this.return();
    // Before executing as well as at delivery: an expired subscriber costs no execution.
    if (!TokenVerifier.isCurrent(this.principal)) return this.expire();
    let result: ExecutionResult;
    try {
      result = await this.map(value);
    } catch (error) {
      result = { errors: [error instanceof GraphQLError ? error : new GraphQLError(String(error))] };
    }
    if (!TokenVerifier.isCurrent(this.principal)) return this.expire();
    return { value: result, done: false };
  }

  async return(): Promise<IteratorResult<ExecutionResult>> {
    this.ended = true;
    await this.source.return?.();
    return { value: undefined, done: true };
  }

  async throw(error?: unknown): Promise<IteratorResult<ExecutionResult>> {
    await this.return();
    throw error;
  }

  private async expire(): Promise<IteratorResult<ExecutionResult>> {
    await this.return();
    return { value: { errors: [new AuthenticationError("The token has expired.")] }, done: false };
  }
}

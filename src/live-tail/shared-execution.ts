import {
  createSourceEventStream,
  execute,
  ExecutionArgs,
  ExecutionResult,
  GraphQLError,
  print,
} from "graphql";
import type { AuditEventEdge } from "../audit-log/audit-log.types";
import { PerObjectMemo } from "../common/per-object-memo";

/**
 * graphql-js executes a subscription's selection once per subscriber per
 * event. Subscribers of one process that run the same operation (same text,
 * same variables, same workspace) on the same stored event get the same
 * result, so it is computed once and shared: a thousand agents watching one
 * conversation cost one execution per event, not a thousand.
 *
 * Sharing keys on the event record, which a workspace stream hands to all its
 * subscribers as one object; a result is dropped with its record.
 */
export class SharedSubscriptionExecution {
  private readonly results = new PerObjectMemo<Promise<ExecutionResult>>();

  /** graphql-ws's `subscribe`: the source stream of graphql-js, each event executed once per operation. */
  readonly subscribe = async (args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> => {
    const source = await createSourceEventStream(args);
    if (!isAsyncIterable(source)) return source as ExecutionResult;
    const workspaceId = (args.contextValue as { principal?: { workspaceId?: string } } | undefined)?.principal?.workspaceId ?? "";
    const operation = `${workspaceId}\n${args.operationName ?? ""}\n${JSON.stringify(args.variableValues ?? {})}\n${print(args.document)}`;
    return mapResults(source, (payload) => this.execute(args, payload, operation));
  };

  private execute(args: ExecutionArgs, payload: unknown, operation: string): Promise<ExecutionResult> {
    const node = (payload as AuditEventEdge | undefined)?.node as object | undefined;
    const run = async () => execute({ ...args, rootValue: payload });
    if (!node || typeof node !== "object") return run();
    return this.results.get(node, operation, run);
  }
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === "object" && value !== null && typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === "function";
}

/**
 * Maps each source event to a result. Not an async generator: return() must
 * reach the source at once, even while next() waits for an event, so that a
 * tail ends as soon as its client leaves.
 */
function mapResults(source: AsyncIterable<unknown>, map: (payload: unknown) => Promise<ExecutionResult>): AsyncIterableIterator<ExecutionResult> {
  const iterator = source[Symbol.asyncIterator]();
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      const { value, done } = await iterator.next();
      if (done) return { value: undefined, done: true };
      try {
        return { value: await map(value), done: false };
      } catch (error) {
        return { value: { errors: [error instanceof GraphQLError ? error : new GraphQLError(String(error))] }, done: false };
      }
    },
    async return() {
      await iterator.return?.();
      return { value: undefined, done: true };
    },
    async throw(error?: unknown) {
      await iterator.return?.();
      throw error;
    },
  };
}

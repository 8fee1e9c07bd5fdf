import {
  ASTNode,
  createSourceEventStream,
  DocumentNode,
  execute,
  ExecutionArgs,
  ExecutionResult,
  FormattedExecutionResult,
  getOperationAST,
  GraphQLError,
  Kind,
  visit,
} from "graphql";
import type { Principal, Role } from "../auth/principal";
import { TokenVerifier } from "../auth/tokens";
import { AuthenticationError } from "../common/errors";
import { PerObjectMemo } from "../common/per-object-memo";
import type { AuditEventEdge } from "../logs/audit-log.types";
import type { AppContext } from "../server/context";
import { failedForDatabase, outlastOutage } from "./outlast-outage";
import { TailOutput, TailSubscription } from "./tail-subscription";

/** The WebSocket operation a subscription delivers over (server/websocket.ts builds one per operation). */
export interface TailConnection {
  /** Sends one `next` message of this operation whose payload is this JSON, as UTF-8; `sent` is called once it has left for the client. */
  sendResult(payloadJson: Buffer, sent?: () => void): void;
  /** Bytes the service holds for the connection that the client has not taken yet. */
  unsentBytes(): number;
  /** Closes the connection because its client does not keep up. */
  closeTooSlow(): void;
}

/**
 * Unsent bytes a connection may hold before its client counts as too slow
 * and the connection is closed: with one message more at most, this bounds
 * what the service keeps for a client that stops reading. @default 1048576
 */
export const MAX_UNSENT_BYTES = 1024 * 1024;
/** Deliveries of one subscriber that may wait for their results (the database is slow, not the client); past it the client is closed as too slow. @default 10000 */
export const MAX_WAITING_DELIVERIES = 10_000;

/** How a result reaches the client: errors masked, the context's response extensions added (server/websocket.ts). */
export type ResultFormatter = (result: ExecutionResult, context: AppContext) => FormattedExecutionResult;

/**
 * Delivers subscriptions with the least work per subscriber. A thousand
 * agents watching one conversation get the same bytes for an event but for
 * the operation id, so the work is done per event and operation, not per
 * subscriber:
 * - the selection is executed once per stored event for all subscribers of
 *   the same operation and authorization, and its result serialized once;
 * - each subscriber's message is those bytes copied inside its operation's
 *   `next` envelope, written straight to its socket: no iterator, promise,
 *   `JSON.stringify` or text encoding per subscriber and event.
 *
 * graphql-ws still runs the protocol: connection, subscribe, errors before
 * execution, complete. It waits on a subscription's iterator for its end
 * only ({@link SubscriberDelivery}).
 *
 * Whether a token has expired is the one thing about a subscriber a shared
 * result must not depend on: each subscriber's own expiry is checked at its
 * delivery.
 */
export class SharedSubscriptionExecution {
  private readonly payloads = new PerObjectMemo<SharedPayload>();

  constructor(private readonly format: ResultFormatter) {}

  /** graphql-ws's `subscribe`: the subscription's source (a live tail), started toward the operation's connection. */
  readonly subscribe = async (args: ExecutionArgs): Promise<AsyncIterableIterator<never> | ExecutionResult> => {
    const source = await createSourceEventStream(args);
    if (!(source instanceof TailSubscription)) {
      if (Symbol.asyncIterator in Object(source)) throw new Error("A subscription field must return a live tail.");
      return source as ExecutionResult;
    }
    const context = args.contextValue as AppContext;
    const { principal, connection } = context;
    if (!principal || !connection) {
      (source as TailSubscription<AuditEventEdge>).end();
      throw new AuthenticationError();
    }
    const key = executionKey(args, principal);
    const expired = () => Buffer.from(JSON.stringify(this.format({ errors: [new AuthenticationError("The token has expired.")] }, context)));
    return new SubscriberDelivery(source as TailSubscription<AuditEventEdge>, principal, connection, (edge) => this.payloadOf(args, edge, key), expired);
  };

  /** The serialized result of the operation on this edge: computed by its first subscriber, shared by the others. */
  private payloadOf(args: ExecutionArgs, edge: AuditEventEdge, key: string): SharedPayload {
    return this.payloads.get(edge, key, () => new SharedPayload(this.serialize(args, edge)));
  }

  /**
   * The operation's result on the edge. A result that failed because the
   * database was unavailable (a name read from the directory, say) is not
   * sent: the execution is tried again until the database answers, and the
   * subscribers' later events wait behind it, in order.
   */
  private async serialize(args: ExecutionArgs, edge: AuditEventEdge): Promise<Buffer> {
    const result = await outlastOutage(
      async (): Promise<ExecutionResult> => {
        try {
          return await execute({ ...args, rootValue: edge });
        } catch (error) {
          return { errors: [error instanceof GraphQLError ? error : new GraphQLError(String(error), { originalError: error as Error })] };
        }
      },
      { failedForDatabase },
    );
    return Buffer.from(JSON.stringify(this.format(result, args.contextValue as AppContext)));
  }
}

/**
 * What a subscription's result depends on besides the edge: the caller's
 * authorization, the operation (its document and name), and the values of
 * the variables its selection uses. The root field's own arguments are left
 * out: the tail has already chosen the events with them, and the root
 * resolvers return the edge they are given whatever their arguments
 * (live-tail.resolver.ts). So subscribers that resume from different cursors
 * still share.
 *
 * A document is known by a number: subscribers of one operation text share
 * one parsed document (server/websocket.ts), so the key stays short, and a
 * document parsed twice only shares less.
 */
function executionKey(args: ExecutionArgs, principal: Principal): string {
  const facts = documentFacts(args.document);
  const operationName = args.operationName ?? "";
  let used = facts.variablesByOperation.get(operationName);
  if (!used) {
    used = [...variablesOutsideRootArguments(args.document, args.operationName)].sort();
    facts.variablesByOperation.set(operationName, used);
  }
  const values = used.map((name) => args.variableValues?.[name] ?? null);
  return JSON.stringify([facts.number, operationName, ...authorizationOf(principal), values]);
}

interface DocumentFacts {
  number: number;
  /** The variables each operation's selection uses, by operation name. */
  variablesByOperation: Map<string, string[]>;
}

const documents = new WeakMap<DocumentNode, DocumentFacts>();
let documentsSeen = 0;

function documentFacts(document: DocumentNode): DocumentFacts {
  let facts = documents.get(document);
  if (!facts) {
    facts = { number: ++documentsSeen, variablesByOperation: new Map() };
    documents.set(document, facts);
  }
  return facts;
}

function variablesOutsideRootArguments(document: DocumentNode, operationName: string | null | undefined): Set<string> {
  const used = new Set<string>();
  const collect = (node: ASTNode) =>
    visit(node, {
      Variable: (variable) => {
        used.add(variable.name.value);
      },
    });
  const operation = getOperationAST(document, operationName);
  for (const selection of operation?.selectionSet.selections ?? []) {
    if (selection.kind !== Kind.FIELD) {
      collect(selection);
      continue;
    }
    if (selection.selectionSet) collect(selection.selectionSet);
    for (const directive of selection.directives ?? []) collect(directive);
  }
  for (const directive of operation?.directives ?? []) collect(directive);
  for (const definition of document.definitions) if (definition.kind === Kind.FRAGMENT_DEFINITION) collect(definition);
  return used;
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

/**
 * Subscribers a result is handed to in one turn of the event loop. A hot
 * conversation's result goes to thousands of sockets; between slices the
 * loop serves other work (recording calls above all), which would otherwise
 * wait for the whole fan-out. Smaller slices let that work in sooner; the
 * default is the size at which the bench's hot workload had both its
 * recording and its delivery latency lowest (docs/performance.md).
 * @default 32
 */
export const DELIVERIES_PER_TURN = 32;

/** One event's result for one operation, as JSON in UTF-8 once it is computed: encoded once, copied into each subscriber's message. */
class SharedPayload {
  json: Buffer | undefined;
  private waiting: (() => void)[] = [];

  /** `json` never rejects: a failed execution is a result with errors. */
  constructor(json: Promise<Buffer>) {
    void json.then((text) => {
      this.json = text;
      const waiting = this.waiting;
      this.waiting = [];
      callInSlices(waiting, 0);
    });
  }

  whenReady(callback: () => void): void {
    if (this.json !== undefined) callback();
    else this.waiting.push(callback);
  }
}

function callInSlices(callbacks: readonly (() => void)[], from: number): void {
  const end = Math.min(callbacks.length, from + DELIVERIES_PER_TURN);
  for (let index = from; index < end; index++) callbacks[index]();
  if (end < callbacks.length) setImmediate(callInSlices, callbacks, end);
}

/**
 * One subscriber's delivery: the tail's edges, as results, written to the
 * connection in seq order while its token is current. A result still being
 * computed holds back the ones after it; a result already computed goes out
 * at once.
 *
 * A client that does not read is closed once the connection holds more than
 * {@link MAX_UNSENT_BYTES} for it. When its token expires, the subscription
 * ends with one UNAUTHENTICATED error (graphql-ws then sends `complete`).
 *
 * To graphql-ws it is the subscription's iterator, whose first and only
 * result is its end: `return()` (the client completes or leaves) ends the
 * tail at once.
 */
class SubscriberDelivery implements AsyncIterableIterator<never>, TailOutput<AuditEventEdge> {
  /** Results still being computed, or waiting behind one that is, in seq order. */
  private readonly waiting: SharedPayload[] = [];
  private flushWaiters: (() => void)[] = [];
  private done = false;
  private readonly end: Promise<IteratorResult<never>>;
  private settle!: { resolve(result: IteratorResult<never>): void; reject(error: unknown): void };

  constructor(
    private readonly tail: TailSubscription<AuditEventEdge>,
    private readonly principal: Principal,
    private readonly connection: TailConnection,
    private readonly payloadOf: (edge: AuditEventEdge) => SharedPayload,
    private readonly expiredPayload: () => Buffer,
  ) {
    this.end = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    // graphql-ws may ask for the end only later: a failure meanwhile is not an unhandled rejection.
    this.end.catch(() => undefined);
    tail.start(this);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<never>> {
    return this.end;
  }

  async return(): Promise<IteratorResult<never>> {
    this.tail.end();
    return { value: undefined, done: true };
  }

  async throw(error?: unknown): Promise<IteratorResult<never>> {
    this.tail.end();
    throw error;
  }

  push(edge: AuditEventEdge): void {
    if (this.done) return;
    if (!TokenVerifier.isCurrent(this.principal)) return this.expire();
    const payload = this.payloadOf(edge);
    if (this.waiting.length === 0 && payload.json !== undefined) return this.send(payload.json);
    if (this.waiting.length >= MAX_WAITING_DELIVERIES) return this.tooSlow();
    this.waiting.push(payload);
    if (this.waiting.length === 1) payload.whenReady(this.flush);
  }

  flushed(): Promise<void> {
    if (this.done || this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.flushWaiters.push(resolve));
  }

  ended(error?: unknown): void {
    this.done = true;
    this.waiting.length = 0;
    this.releaseFlushWaiters();
    if (error === undefined) this.settle.resolve({ value: undefined, done: true });
    else this.settle.reject(error);
  }

  /** Sends the results that are ready, in order, up to the first that is not. */
  private readonly flush = (): void => {
    while (!this.done && this.waiting.length > 0) {
      const json = this.waiting[0].json;
      if (json === undefined) return this.waiting[0].whenReady(this.flush);
      this.waiting.shift();
      const last = this.waiting.length === 0 && this.flushWaiters.length > 0;
      this.send(json, last ? this.releaseFlushWaiters : undefined);
    }
  };

  private send(json: Buffer, sent?: () => void): void {
    if (this.connection.unsentBytes() > MAX_UNSENT_BYTES) return this.tooSlow();
    this.connection.sendResult(json, sent);
  }

  private readonly releaseFlushWaiters = (): void => {
    const waiters = this.flushWaiters;
    this.flushWaiters = [];
    for (const resolve of waiters) resolve();
  };

  private tooSlow(): void {
    this.connection.closeTooSlow();
    this.tail.end();
  }

  private expire(): void {
    this.waiting.length = 0;
    this.connection.sendResult(this.expiredPayload());
    this.tail.end();
  }
}

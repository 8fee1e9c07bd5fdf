/**
 * Live-tail subscribers in a process of their own (forked by the live-tail
 * part): many graphql-transport-ws clients against the service, or plain
 * `ws` sockets against the floor server, one subscription per socket. The parent drives
 * it over IPC: open, await the warm-up events, collect the measured events.
 * Receipt times are wall-clock milliseconds, comparable with the parent's.
 */
import WebSocket from "ws";
import { sleep, summarize, wallClock } from "./load";

export interface SubscriberSpec {
  /** ws:// URL of the service's /graphql, or of the floor server. */
  url: string;
  /** The conversation to follow; null: the whole workspace. */
  conversationId: string | null;
  /** The loopback address the socket starts from. */
  localAddress: string;
}

export interface RecordedEvent {
  id: string;
  conversationId: string;
  /** Wall clock just before the recording request was sent. */
  sentAt: number;
  /** Wall clock when its response (sent after commit) was received. */
  respondedAt: number;
}

export type ToClients =
  | { type: "open"; mode: "graphql" | "floor"; tokens: { conversation: string; workspace: string }; subscribers: SubscriberSpec[]; wave: number; timeoutMs: number }
  | { type: "await"; warmup: { id: string; conversationId: string }[]; timeoutMs: number }
  | { type: "collect"; events: RecordedEvent[]; drainMs: number }
  | { type: "close" };

export type FromClients =
  | { type: "opened"; connected: number; failed: number }
  | { type: "ready"; ready: number; notReady: number }
  | { type: "result"; result: DeliveryResult }
  | { type: "closed" }
  | { type: "error"; message: string };

const CONVERSATION_TAIL = `subscription ConversationTail($id: ID!) {
  tail: conversationAuditEvents(conversationId: $id) { cursor node { id metadata } }
}`;
const WORKSPACE_TAIL = `subscription WorkspaceTail {
  tail: workspaceAuditEvents { cursor node { id metadata } }
}`;

interface Subscriber {
  conversationId: string | null;
  /** First receipt of each event id. */
  firstSeen: Map<string, number>;
  /** Receipts of each event id beyond the first. */
  repeats: number;
  close(): Promise<void> | void;
}

const subscribers: Subscriber[] = [];
let errors = 0;
let firstError: string | undefined;

function fail(error: unknown): void {
  errors += 1;
  firstError ??= error instanceof Error ? error.message : typeof error === "object" ? JSON.stringify(error) : String(error);
}

function receive(subscriber: Subscriber, id: string | undefined): void {
  const at = wallClock();
  if (!id) return fail(new Error("a delivery without node.id"));
  if (subscriber.firstSeen.has(id)) subscriber.repeats += 1;
  else subscriber.firstSeen.set(id, at);
}

function newSubscriber(conversationId: string | null): Subscriber {
  return { conversationId, firstSeen: new Map(), repeats: 0, close: () => undefined };
}

/**
 * A graphql-transport-ws client reduced to what a tail needs, one per socket:
 * connection_init, one subscribe, then `next` messages. The subscribers share
 * the machine with the server, so they do no more per message than the
 * floor's clients (one JSON.parse); graphql-ws's own client is what the tests
 * use. Resolves once acknowledged.
 */
function openGraphQL(spec: SubscriberSpec, token: string): Promise<Subscriber> {
  return new Promise((resolve, reject) => {
    const subscriber = newSubscriber(spec.conversationId);
    let acknowledged = false;
    const socket = new WebSocket(spec.url, "graphql-transport-ws", { perMessageDeflate: false, localAddress: spec.localAddress });
    socket.once("open", () => socket.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${token}` } })));
    socket.once("error", (error) => {
      if (!acknowledged) reject(error);
      else fail(error);
    });
    socket.once("close", (code) => {
      if (!acknowledged) reject(new Error(`closed with ${code} before acknowledgement`));
    });
    socket.on("message", (data) => {
      let message: { type?: string; payload?: { data?: { tail?: { node?: { id?: string } } }; errors?: unknown } };
      try {
        message = JSON.parse(data.toString()) as typeof message;
      } catch (error) {
        return fail(error);
      }
      if (message.type === "next") {
        if (message.payload?.errors) return fail(new Error(JSON.stringify(message.payload.errors)));
        return receive(subscriber, message.payload?.data?.tail?.node?.id);
      }
      if (message.type === "connection_ack") {
        acknowledged = true;
        const operation = spec.conversationId === null ? { query: WORKSPACE_TAIL } : { query: CONVERSATION_TAIL, variables: { id: spec.conversationId } };
        socket.send(JSON.stringify({ id: "tail", type: "subscribe", payload: operation }));
        return resolve(subscriber);
      }
      if (message.type === "ping") return socket.send(JSON.stringify({ type: "pong" }));
      if (message.type === "error") return fail(new Error(JSON.stringify(message.payload)));
    });
    subscriber.close = () => socket.close(1000);
  });
}

/** A plain WebSocket to the floor server, which sends it every message of its conversation. */
function openFloor(spec: SubscriberSpec): Promise<Subscriber> {
  return new Promise((resolve, reject) => {
    const subscriber = newSubscriber(spec.conversationId);
    const url = `${spec.url}?conversation=${encodeURIComponent(spec.conversationId ?? "*")}`;
    const socket = new WebSocket(url, { localAddress: spec.localAddress });
    socket.once("open", () => resolve(subscriber));
    socket.once("error", reject);
    socket.on("message", (data) => {
      try {
        const message = JSON.parse(data.toString()) as { payload?: { data?: { tail?: { node?: { id?: string } } } } };
        receive(subscriber, message.payload?.data?.tail?.node?.id);
      } catch (error) {
        fail(error);
      }
    });
    subscriber.close = () => socket.close();
  });
}

async function open(message: Extract<ToClients, { type: "open" }>): Promise<FromClients> {
  const deadline = Date.now() + message.timeoutMs;
  for (let start = 0; start < message.subscribers.length && Date.now() < deadline; start += message.wave) {
    const wave = message.subscribers.slice(start, start + message.wave);
    const opened = await Promise.allSettled(wave.map((spec) => (message.mode === "graphql" ? openGraphQL(spec, spec.conversationId === null ? message.tokens.workspace : message.tokens.conversation) : openFloor(spec))));
    for (const outcome of opened) {
      if (outcome.status === "fulfilled") subscribers.push(outcome.value);
      else fail(outcome.reason);
    }
  }
  return { type: "opened", connected: subscribers.length, failed: message.subscribers.length - subscribers.length };
}

function expectedOf(subscriber: Subscriber, events: { id: string; conversationId: string }[]): { id: string }[] {
  return subscriber.conversationId === null ? events : events.filter((event) => event.conversationId === subscriber.conversationId);
}

async function awaitWarmup(message: Extract<ToClients, { type: "await" }>): Promise<FromClients> {
  const deadline = Date.now() + message.timeoutMs;
  // Live once it has any warm-up event of its own: those recorded before its subscription started are not owed to it.
  const missing = () => subscribers.filter((subscriber) => !expectedOf(subscriber, message.warmup).some(({ id }) => subscriber.firstSeen.has(id))).length;
  let notReady = missing();
  while (notReady > 0 && Date.now() < deadline) {
    await sleep(50);
    notReady = missing();
  }
  return { type: "ready", ready: subscribers.length - notReady, notReady };
}

async function collect(message: Extract<ToClients, { type: "collect" }>): Promise<FromClients> {
  const deadline = Date.now() + message.drainMs;
  const complete = () => subscribers.every((subscriber) => expectedOf(subscriber, message.events).every(({ id }) => subscriber.firstSeen.has(id)));
  while (!complete() && Date.now() < deadline) await sleep(100);
  return { type: "result", result: delivery(message.events) };
}

export type DeliveryResult = ReturnType<typeof delivery>;

/** What the subscribers received of the measured events. */
function delivery(events: RecordedEvent[]) {
  const measured = new Set(events.map((event) => event.id));
  const byId = new Map(events.map((event) => [event.id, event]));
  const fromSent: number[] = [];
  const fromResponse: number[] = [];
  let expected = 0;
  let lost = 0;
  let duplicated = 0;
  let unexpected = 0;
  for (const subscriber of subscribers) {
    const wanted = expectedOf(subscriber, events);
    const wantedIds = new Set(wanted.map(({ id }) => id));
    expected += wanted.length;
    for (const { id } of wanted) {
      const at = subscriber.firstSeen.get(id);
      if (at === undefined) {
        lost += 1;
        continue;
      }
      const event = byId.get(id)!;
      fromSent.push(at - event.sentAt);
      fromResponse.push(at - event.respondedAt);
    }
    for (const id of subscriber.firstSeen.keys()) if (measured.has(id) && !wantedIds.has(id)) unexpected += 1;
    duplicated += subscriber.repeats;
  }
  return {
    subscribers: subscribers.length,
    expected,
    delivered: fromSent.length,
    lost,
    duplicated,
    // Events a subscription received that are not of its conversation.
    unexpected,
    // From the recording request's send to receipt: an upper bound of commit to receipt.
    fromSent: summarize(fromSent),
    // From the recording response to receipt: a lower bound, as the service answers after commit.
    fromResponse: summarize(fromResponse),
    errors,
    ...(firstError ? { firstError } : {}),
  };
}

async function close(): Promise<FromClients> {
  await Promise.allSettled(subscribers.map((subscriber) => subscriber.close()));
  return { type: "closed" };
}

const HANDLERS: { [T in ToClients["type"]]: (message: Extract<ToClients, { type: T }>) => Promise<FromClients> } = { open, await: awaitWarmup, collect, close };

process.on("message", (message: ToClients) => {
  (HANDLERS[message.type] as (message: ToClients) => Promise<FromClients>)(message).then(
    (reply) => {
      process.send!(reply);
      if (reply.type === "closed") setTimeout(() => process.exit(0), 100);
    },
    (error: unknown) => process.send!({ type: "error", message: error instanceof Error ? error.stack ?? error.message : String(error) }),
  );
});
process.on("disconnect", () => process.exit(0));

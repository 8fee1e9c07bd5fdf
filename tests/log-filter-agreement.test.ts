import { useTestDatabase } from "./support/database";
import { connectedClient, recordOver, TailData, until, WORKSPACE_TAIL } from "./support/live";
import { postGraphQL, useTestServer } from "./support/server";
import { statementsDuring } from "./support/statements";
import { Role, tokenFor } from "./support/tokens";
import type { TestSubscription, TestWsClient } from "./support/ws-client";

const WORKSPACE_LOG = `
  query WorkspaceLog($filter: AuditEventFilter, $range: DateRange) {
    log: workspaceAuditLog(filter: $filter, range: $range, first: 200) { edges { node { id } } pageInfo { hasNextPage } }
  }`;

const ANA = { kind: "USER", id: "u-ana", name: "Ana Diaz" };
const BEN = { kind: "USER", id: "u-ben", name: "Ben Ode" };
/** An automation whose id is also a user's: by-user filters take people only. */
const RULE = { kind: "AUTOMATION", id: "u-ana", name: "Routing rule" };
const PLATFORM = { kind: "SYSTEM", id: null, name: "Platform" };

/** Three customers one name covers as the database compares names (case and accents aside), and one it does not. */
const MILA = { id: "cu-mila", name: "Mila Ríos" };
const MILA_UPPER = { id: "cu-mila-upper", name: "MILA RÍOS" };
const MILA_PLAIN = { id: "cu-mila-plain", name: "Mila Rios" };
const OTHER = { id: "cu-other", name: "Someone Else" };
const MILA_NAME = "mila ríos";

type Input = Record<string, unknown>;

/** Every type, several users, conversations, customers and sections; names stay the same throughout. */
function variedEvents(): Input[] {
  const event = (type: string, action: string, actor: object, targets: Input = {}) => ({ type, action, actor, ...targets });
  const conversation = (id: string) => ({ id, subject: `Subject of ${id}` });
  const settings = (section: string) => ({ section, objectId: null, objectName: null });
  return [
    event("AUTHORIZATION", "authorization.login_succeeded", ANA),
    event("AUTHORIZATION", "authorization.login_failed", BEN),
    event("BILLING", "billing.plan_changed", ANA),
    event("BILLING", "billing.seats_changed", RULE),
    event("CONVERSATION", "conversation.status_changed", ANA, { conversation: conversation("c-1"), customer: MILA }),
    event("CONVERSATION", "conversation.updated", BEN, { conversation: conversation("c-2"), customer: OTHER }),
    event("CONVERSATION", "conversation.priority_changed", BEN, { conversation: conversation("c-1") }),
    event("CUSTOMER", "customer.updated", ANA, { customer: MILA }),
    event("CUSTOMER", "customer.updated", BEN, { customer: MILA_UPPER }),
    event("CUSTOMER", "customer.updated", ANA, { customer: OTHER }),
    event("CUSTOMER", "customer.created", PLATFORM, { customer: MILA_PLAIN }),
    event("CUSTOMER", "customer.updated", RULE, { customer: MILA }),
    event("SETTINGS", "settings.updated", ANA, { settings: settings("SHORTCUTS") }),
    event("SETTINGS", "settings.support_access_granted", BEN, { settings: settings("SUPPORT_ACCESS") }),
    event("SETTINGS", "settings.created", BEN, { settings: settings("SHORTCUTS") }),
    event("WORK_SESSION", "work_session.started", ANA),
    event("WORK_SESSION", "work_session.conversation_routed", RULE, { conversation: conversation("c-1") }),
    event("WORK_SESSION", "work_session.conversation_accepted", BEN, { conversation: conversation("c-1") }),
  ];
}

/** Every member of AuditEventFilter, with and without userId where it is optional, and no filter. */
const FILTERS: [string, Input | null][] = [
  ["no filter", null],
  ["allEvents", { allEvents: { userId: "u-ana" } }],
  ["authorization", { authorization: { userId: "u-ana" } }],
  ["billing", { billing: { userId: "u-ana" } }],
  ["workSession", { workSession: { userId: "u-ben" } }],
  ["conversation", { conversation: { conversationId: "c-1" } }],
  ["conversation, by a user", { conversation: { conversationId: "c-1", userId: "u-ben" } }],
  ["customer", { customer: { customerName: MILA_NAME } }],
  ["customer, by a user", { customer: { customerName: ` ${MILA_NAME} `, userId: "u-ben" } }],
  ["settings", { settings: { section: "SHORTCUTS" } }],
  ["settings, by a user", { settings: { section: "SHORTCUTS", userId: "u-ben" } }],
];

const HOUR = 3_600_000;
const BASE = Date.UTC(2026, 5, 1);

describe("the workspace log and the workspace tail, with the same filter", () => {
  const dataSource = useTestDatabase();
  const server = useTestServer();
  let admin: string;
  let service: string;
  const clients: TestWsClient[] = [];
  let round = 0;

  beforeAll(async () => {
    admin = await tokenFor(Role.ADMIN, { userId: "u-ana" });
    service = await tokenFor(Role.SERVICE);
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.dispose()));
    await until(() => server.services.liveTail.activeSubscriptions === 0, 5_000, "tails to end");
  });

  /** A period of its own per test, and inputs placed in it in record order, a second apart. */
  const period = () => {
    round += 1;
    const from = BASE + round * HOUR;
    let n = 0;
    const place = (input: Input, at = from + ++n * 1_000) => ({ ...input, idempotencyKey: `agree-${round}-${at}`, occurredAt: new Date(at).toISOString() });
    return { range: { from: new Date(from).toISOString(), to: new Date(from + HOUR).toISOString() }, place, last: from + HOUR - 1_000 };
  };

  const record = (events: Input[]) => recordOver(server.graphqlUrl, service, events);

  /** The log's events of the period, oldest first (the order a tail delivers in). */
  const logIds = async (filter: Input | null, range: object): Promise<string[]> => {
    const response = await postGraphQL<{ log: { edges: { node: { id: string } }[]; pageInfo: { hasNextPage: boolean } } }>(
      server.graphqlUrl,
      { query: WORKSPACE_LOG, variables: { filter, range } },
      { token: admin },
    );
    if (response.body.errors) throw new Error(JSON.stringify(response.body.errors));
    expect(response.body.data!.log.pageInfo.hasNextPage).toBe(false);
    return response.body.data!.log.edges.map((edge) => edge.node.id).reverse();
  };

  const follow = async (filter: Input | null): Promise<TestSubscription<TailData>> => {
    const client = await connectedClient(server.wsUrl, admin);
    clients.push(client);
    const before = server.services.liveTail.activeSubscriptions;
    const subscription = client.subscribe<TailData>({ query: WORKSPACE_TAIL, variables: { filter } });
    await until(() => server.services.liveTail.activeSubscriptions > before, 5_000, "the subscription to start");
    return subscription;
  };

  /** What the tail delivers, up to and including `last`. */
  const deliveredThrough = async (tail: TestSubscription<TailData>, last: string): Promise<string[]> => {
    const ids: string[] = [];
    while (ids[ids.length - 1] !== last) {
      const result = await tail.next(10_000);
      if (result.errors) throw new Error(JSON.stringify(result.errors));
      ids.push(result.data!.tail.node.id);
    }
    return ids;
  };

  it.each(FILTERS)("delivers live exactly the events the log returns: %s", async (_name, filter) => {
    const { range, place, last } = period();
    const tail = await follow(filter);
    const inputs = variedEvents().map((input) => place(input));
    // Several calls, so that the tail takes several notices.
    const ids = [...(await record(inputs.slice(0, 7))), ...(await record(inputs.slice(7, 12))), ...(await record(inputs.slice(12)))];
    const logged = await logIds(filter, range);
    expect(logged.length).toBeGreaterThan(0);
    // A last event the filter takes too (a copy of its first one): once the tail delivers it, it has delivered everything before.
    const [closing] = await record([place(inputs[ids.indexOf(logged[0])], last)]);
    const expected = await logIds(filter, range);
    expect(expected).toEqual([...logged, closing]);
    expect(await deliveredThrough(tail, closing)).toEqual(expected);
  });

  it("follows a rename: a customer renamed to the name joins the tail from that event on, one renamed away leaves it", async () => {
    const { range, place } = period();
    const filter = { customer: { customerName: "Acme Corp" } };
    const tail = await follow(filter);
    const customerEvent = (customer: object) => place({ type: "CUSTOMER", action: "customer.updated", actor: ANA, customer });
    const alpha = { id: "cu-alpha", name: "Acme Corp" };
    const beta = { id: "cu-beta", name: "Beta Inc" };
    const [alphaBefore, betaBefore] = await record([customerEvent(alpha), customerEvent(beta)]);
    const [betaRenamed] = await record([customerEvent({ ...beta, name: "ACME CORP" }), customerEvent({ ...alpha, name: "Alpha" })]);
    const [betaAfter] = await record([customerEvent({ ...beta, name: "ACME CORP" }), customerEvent({ ...alpha, name: "Alpha" })]);
    const [closing] = await record([customerEvent({ ...beta, name: "ACME CORP" })]);
    expect(await deliveredThrough(tail, closing)).toEqual([alphaBefore, betaRenamed, betaAfter, closing]);
    // The log asks the names when it is read: beta's earlier events too, none of alpha's. From the renames on, the two agree.
    expect(await logIds(filter, range)).toEqual([betaBefore, betaRenamed, betaAfter, closing]);
  });

  it("asks the database no question per event for a customer-name tail", async () => {
    const { place } = period();
    const tail = await follow({ customer: { customerName: MILA_NAME } });
    const customerEvent = (customer: object) => place({ type: "CUSTOMER", action: "customer.updated", actor: BEN, customer });
    const EVENTS = 12;
    const customers = [MILA, MILA_UPPER, OTHER];
    // The first mention of each customer after the tail started reads the names once; then they are known.
    const warmUp = await record([OTHER, MILA, MILA_UPPER].map(customerEvent));
    await deliveredThrough(tail, warmUp[2]);
    let delivered: string[] = [];
    const statements = await statementsDuring(dataSource, async () => {
      const ids: string[] = [];
      // One call per event: each is a notice of its own.
      for (let n = 0; n < EVENTS; n++) ids.push(...(await record([customerEvent(customers[n % customers.length])])));
      const taken = ids.filter((_id, n) => customers[n % customers.length] !== OTHER);
      delivered = await deliveredThrough(tail, taken[taken.length - 1]);
      expect(delivered).toEqual(taken);
    });
    const lookups = statements.filter((sql) => /\bSELECT\b[^;]*\bFROM customers\b/i.test(sql));
    expect(lookups).toEqual([]);
    expect(delivered).toHaveLength((EVENTS * 2) / 3);
  });
});

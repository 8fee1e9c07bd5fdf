import { deleteEventsOfWorkspace } from "../src/database/audit-event.repository";
import { AuditEventType } from "../src/events/audit-event.enums";
import { useTestDatabase } from "./support/database";
import { eventInput, EventInput, RECORD_EVENTS, REFUND, ZOE } from "./support/events";
import { postGraphQL, useTestServer } from "./support/server";
import { OTHER_WORKSPACE, Role, tokenFor, WORKSPACE } from "./support/tokens";

const REFUSED_UPDATE = "audit_events is append-only: an event cannot be changed";
const REFUSED_DELETE = "audit_events is append-only: events are deleted only by the retention purge";

describe("audit_events in the database: append-only", () => {
  const dataSource = useTestDatabase();
  const server = useTestServer();

  const record = async (workspaceId: string, events: EventInput[]) => {
    const token = await tokenFor(Role.SERVICE, { workspaceId });
    const response = await postGraphQL<{ recordAuditEvents: { events: { id: string }[] } }>(server.graphqlUrl, { query: RECORD_EVENTS, variables: { events } }, { token });
    expect(response.body.errors).toBeUndefined();
    return response.body.data!.recordAuditEvents.events.map((event) => event.id);
  };
  const rows = (workspaceId: string) => dataSource.query(`SELECT * FROM audit_events WHERE workspace_id = ? ORDER BY seq`, [workspaceId]);
  const entries = (workspaceId: string) => dataSource.query(`SELECT seq, customer_id FROM customer_log_entries WHERE workspace_id = ? ORDER BY seq`, [workspaceId]);

  beforeAll(async () => {
    for (const workspaceId of [WORKSPACE, OTHER_WORKSPACE]) {
      await record(workspaceId, [
        eventInput(AuditEventType.CONVERSATION, "conversation.created", { conversation: REFUND, customer: ZOE }),
        eventInput(AuditEventType.CUSTOMER, "customer.updated", { customer: ZOE }),
        eventInput(AuditEventType.BILLING, "billing.plan_changed"),
      ]);
    }
  });

  it.each([
    ["a name as recorded", "actor_name = 'Someone Else'"],
    ["the customer", "customer_id = NULL"],
    ["the order", "seq = seq + 1000"],
    ["the time", "occurred_at = occurred_at - INTERVAL 1 DAY"],
  ])("refuses to change %s of a recorded event, and keeps the row", async (_what, assignment) => {
    const before = await rows(WORKSPACE);
    await expect(dataSource.query(`UPDATE audit_events SET ${assignment} WHERE workspace_id = ?`, [WORKSPACE])).rejects.toThrow(REFUSED_UPDATE);
    expect(await rows(WORKSPACE)).toEqual(before);
  });

  it("refuses to delete an event outside the purge, and keeps it", async () => {
    const before = await rows(WORKSPACE);
    expect(before).toHaveLength(3);
    await expect(dataSource.query(`DELETE FROM audit_events WHERE workspace_id = ? AND seq = 2`, [WORKSPACE])).rejects.toThrow(REFUSED_DELETE);
    expect(await rows(WORKSPACE)).toEqual(before);
  });

  it("files the events with a customer in the customer log's own table as it records them", async () => {
    expect(await entries(WORKSPACE)).toEqual([
      { seq: 1, customer_id: ZOE.id },
      { seq: 2, customer_id: ZOE.id },
    ]);
  });

  it("lets the purge delete a workspace's events and customer-log entries, only on its own connection and only while it runs", async () => {
    const runner = dataSource.createQueryRunner();
    try {
      await deleteEventsOfWorkspace(runner, WORKSPACE);
      expect(await rows(WORKSPACE)).toEqual([]);
      expect(await entries(WORKSPACE)).toEqual([]);
      // The marker is off again on the purge's connection, and the other workspace's events are all there.
      await expect(runner.query(`DELETE FROM audit_events WHERE workspace_id = ?`, [OTHER_WORKSPACE])).rejects.toThrow(REFUSED_DELETE);
      expect(await rows(OTHER_WORKSPACE)).toHaveLength(3);
      expect(await entries(OTHER_WORKSPACE)).toHaveLength(2);
    } finally {
      await runner.release();
    }
  });
});

import type { DataSource } from "typeorm";

/**
 * Runs `change` as a DBA with full rights can: the triggers that keep
 * `audit_events` append-only are dropped for its length, then created again
 * from their own definitions. Tamper tests change the rows this way.
 */
export async function withTriggersDropped(dataSource: DataSource, change: () => Promise<void>): Promise<void> {
  const triggers: { name: string }[] = await dataSource.query(
    `SELECT trigger_name AS name FROM information_schema.triggers WHERE trigger_schema = DATABASE() AND event_object_table = 'audit_events'`,
  );
  expect(triggers.length).toBeGreaterThan(0);
  const definitions: string[] = [];
  for (const { name } of triggers) {
    const [shown]: Record<string, string>[] = await dataSource.query(`SHOW CREATE TRIGGER \`${name}\``);
    definitions.push(shown["SQL Original Statement"]);
    await dataSource.query(`DROP TRIGGER \`${name}\``);
  }
  try {
    await change();
  } finally {
    for (const definition of definitions) await dataSource.query(definition);
  }
}

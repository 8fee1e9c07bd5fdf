import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Ids compare byte for byte: workspace, user, customer, conversation, actor,
 * subject user and event ids, and idempotency keys.
 *
 * The initial schema gave them `utf8mb4_bin` (and the event id `ascii_bin`).
 * Those are PAD SPACE collations: `'A'` and `'A '` compare equal, so a key
 * with a trailing space found, and in a unique key collided with, another
 * producer's row. Only a NO PAD collation makes trailing spaces count, and
 * the two engines have no NO PAD binary collation in common:
 *
 * - MariaDB: `utf8mb4_nopad_bin` (since 10.2); MySQL does not have it.
 * - MySQL 8.0.17+: `utf8mb4_0900_bin`; MariaDB 10.11 does not have it, and
 *   later MariaDB versions know the name only as an alias of theirs.
 *
 * Both order by code point, which for UTF-8 is byte order, as `utf8mb4_bin`
 * did. `VARBINARY` would compare bytes on both engines, but mysql2 returns
 * binary columns as Buffers, and every comparison with a text column or a
 * JSON value would need a conversion: the ids would stop being strings to the
 * code. So this migration asks the server which NO PAD collation it has (and
 * checks that it ignores no trailing space) and uses that one; the rest of the
 * SQL is the same on both engines. Queries need no change: a column's
 * collation wins over the connection's when it is compared with a value.
 *
 * The event id becomes utf8mb4 as well (`VARCHAR(26)`, its length fixed by
 * the code), since MySQL has no NO PAD collation for `ascii`. Ids kept inside
 * the `details` JSON (settings object, CSAT survey) are never compared by SQL.
 *
 * Existing rows keep their values: under PAD SPACE no two of them could
 * differ only by trailing spaces in a key, so every key stays unique.
 */
export class ExactIds1796527200000 implements MigrationInterface {
  name = "ExactIds1796527200000";

  public async up(queryRunner: QueryRunner): Promise<void> {
    const collation = await noPadBinaryCollation(queryRunner);
    await alterIdColumns(
      queryRunner,
      (length) => `VARCHAR(${length}) CHARACTER SET utf8mb4 COLLATE ${collation}`,
      `VARCHAR(26) CHARACTER SET utf8mb4 COLLATE ${collation}`,
    );
  }

  /**
   * Back to PAD SPACE. Keys that now differ only by trailing spaces would
   * collide there, so they are looked for first: the revert stops before it
   * changes any table, naming the table, rather than half-way through (DDL
   * does not roll back).
   */
  public async down(queryRunner: QueryRunner): Promise<void> {
    for (const { table, columns } of UNIQUE_KEYS) {
      const groups = columns.map((column) => (column === "seq" ? column : `${column} COLLATE utf8mb4_bin`)).join(", ");
      const clashes: unknown[] = await queryRunner.query(`SELECT 1 FROM ${table} GROUP BY ${groups} HAVING COUNT(*) > 1 LIMIT 1`);
      if (clashes.length > 0) {
        throw new Error(
          `Cannot revert ExactIds: ${table} holds rows whose (${columns.join(", ")}) differ only by trailing spaces; ` +
            "they would collide under the previous collation.",
        );
      }
    }
    await alterIdColumns(
      queryRunner,
      (length) => `VARCHAR(${length}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`,
      "CHAR(26) CHARACTER SET ascii COLLATE ascii_bin",
    );
  }
}

/** The unique keys that hold an id, with the columns of each. */
const UNIQUE_KEYS: { table: string; columns: string[] }[] = [
  { table: "workspaces", columns: ["id"] },
  { table: "users", columns: ["workspace_id", "id"] },
  { table: "customers", columns: ["workspace_id", "id"] },
  { table: "conversations", columns: ["workspace_id", "id"] },
  { table: "audit_events", columns: ["workspace_id", "seq"] },
  { table: "audit_events", columns: ["workspace_id", "idempotency_key"] },
  { table: "audit_events", columns: ["id"] },
];

/** Every id column, by table: its length and whether it may be NULL. The event id has a type of its own. */
const ID_COLUMNS: Record<string, { column: string; length: number; nullable: boolean }[]> = {
  workspaces: [{ column: "id", length: 128, nullable: false }],
  users: [
    { column: "workspace_id", length: 128, nullable: false },
    { column: "id", length: 128, nullable: false },
  ],
  customers: [
    { column: "workspace_id", length: 128, nullable: false },
    { column: "id", length: 128, nullable: false },
  ],
  conversations: [
    { column: "workspace_id", length: 128, nullable: false },
    { column: "id", length: 128, nullable: false },
    { column: "customer_id", length: 128, nullable: true },
  ],
  audit_events: [
    { column: "workspace_id", length: 128, nullable: false },
    { column: "idempotency_key", length: 255, nullable: false },
    { column: "actor_id", length: 128, nullable: true },
    { column: "customer_id", length: 128, nullable: true },
    { column: "conversation_id", length: 128, nullable: true },
    { column: "subject_user_id", length: 128, nullable: true },
  ],
};

/** One ALTER TABLE per table: each table is rebuilt once, with all its id columns. */
async function alterIdColumns(queryRunner: QueryRunner, idType: (length: number) => string, eventIdType: string): Promise<void> {
  for (const [table, columns] of Object.entries(ID_COLUMNS)) {
    const changes = columns.map(({ column, length, nullable }) => `MODIFY ${column} ${idType(length)} ${nullable ? "NULL" : "NOT NULL"}`);
    if (table === "audit_events") changes.push(`MODIFY id ${eventIdType} NOT NULL`);
    await queryRunner.query(`ALTER TABLE ${table} ${changes.join(", ")}`);
  }
}

/** The server's NO PAD binary collation for utf8mb4, MariaDB's name first (see the class comment). */
const NO_PAD_BINARY_COLLATIONS = ["utf8mb4_nopad_bin", "utf8mb4_0900_bin"];

async function noPadBinaryCollation(queryRunner: QueryRunner): Promise<string> {
  const known: { name: string }[] = await queryRunner.query(
    `SELECT collation_name AS name FROM information_schema.collations WHERE collation_name IN (?)`,
    [NO_PAD_BINARY_COLLATIONS],
  );
  for (const collation of NO_PAD_BINARY_COLLATIONS) {
    if (!known.some((row) => row.name === collation)) continue;
    // The name alone does not promise NO PAD on every server version: ask.
    const [compared]: { padded: number | string }[] = await queryRunner.query(
      `SELECT _utf8mb4'a' COLLATE ${collation} = _utf8mb4'a ' AS padded`,
    );
    if (Number(compared.padded) === 0) return collation;
  }
  throw new Error(
    `The database server has no NO PAD binary collation for utf8mb4 (${NO_PAD_BINARY_COLLATIONS.join(" or ")}): ` +
      "ids could not compare byte for byte. Use MySQL 8.0.17+ or MariaDB 10.11+.",
  );
}

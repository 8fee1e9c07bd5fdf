/**
 * Runs before each test file (jest setupFiles): gives the file a database of
 * its own on the configured server, and quiet logs. The server comes from
 * TEST_DATABASE_URL or DATABASE_URL (default mysql://root@127.0.0.1:3306).
 */
import { randomBytes } from "node:crypto";

const base = new URL(process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? "mysql://root@127.0.0.1:3306/audit_log");
base.pathname = `/audit_test_${process.pid}_${randomBytes(4).toString("hex")}`;
process.env.DATABASE_URL = base.toString();
process.env.NODE_ENV ??= "test";
process.env.LOG_LEVEL ??= "silent";

import { mkdirSync } from "node:fs";
import path from "node:path";
import { Browser, chromium, Page } from "playwright-core";
import { DEMO_WORKSPACE } from "../src/demo/demo-data";
import { seedDemo } from "../src/demo/demo-seeder";
import { useTestDatabase } from "./support/database";
import { conversationEvent, recordOver, until } from "./support/live";
import { CHROMIUM, describeWith } from "./support/programs";
import { useTestServer } from "./support/server";
import { Role, tokenFor } from "./support/tokens";

/** Screenshots land here, beside the test output (not committed). */
const OUTPUT = path.resolve(__dirname, "output");

/** On one line: typed into Monaco, line breaks would bring auto-indented closing braces. */
const LIVE_TAIL = `subscription LiveTail { conversationAuditEvents(conversationId: "conv-0001") { cursor node { occurredAt action description } } }`;

function isLocal(url: string): boolean {
  if (url.startsWith("data:") || url.startsWith("blob:") || url.startsWith("about:")) return true;
  const { hostname } = new URL(url);
  return hostname === "localhost" || hostname === "127.0.0.1" || hostname === "[::1]";
}

/** The response pane's text (Monaco renders the visible lines, spaces as no-break spaces). */
const responseText = async (page: Page) => (await page.locator(".graphiql-response").innerText()).replace(/\u00a0/g, " ");

/** Waits until the response pane shows the text (a locator: the page's policy forbids the eval a waitForFunction needs). */
const responseShows = (page: Page, text: string, timeout: number) => page.locator(".graphiql-response", { hasText: text }).waitFor({ timeout });

describeWith(CHROMIUM)("GraphiQL in a browser", () => {
  useTestDatabase();
  const server = useTestServer();
  let browser: Browser;

  beforeAll(async () => {
    mkdirSync(OUTPUT, { recursive: true });
    await seedDemo(server.services.recorder);
    browser = await chromium.launch({
      executablePath: CHROMIUM.executable,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
  });

  it("runs the conversation log with an agent token, then shows a live event, requesting nothing outside localhost", async () => {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const requested: string[] = [];
    const blocked: string[] = [];
    await context.route("**/*", (route) => {
      const url = route.request().url();
      requested.push(url);
      if (isLocal(url)) return route.continue();
      blocked.push(url);
      return route.abort();
    });
    const page = await context.newPage();
    page.on("websocket", (socket) => requested.push(socket.url()));
    // The page runs under its Content-Security-Policy: anything it refuses shows here.
    const refused: string[] = [];
    page.on("console", (message) => {
      if (/Content Security Policy/i.test(message.text())) refused.push(message.text());
    });

    await page.goto(`${server.url}/graphql`);
    await page.locator("#token").fill(await tokenFor(Role.AGENT, { workspaceId: DEMO_WORKSPACE, userId: "u-ben", name: "Ben Ode" }));
    // The token remounts GraphiQL: wait for its editor to hold the default query before running it.
    await page.locator(".graphiql-query-editor .view-lines", { hasText: "ConversationLog" }).waitFor({ timeout: 30_000 });
    await page.locator(".graphiql-execute-button").click();
    await responseShows(page, "conversationAuditLog", 30_000).catch(async (error: unknown) => {
      await page.screenshot({ path: path.join(OUTPUT, "graphiql-failure.png") });
      throw error;
    });
    const firstPage = await responseText(page);
    expect(firstPage).toContain('"role": "AGENT"');
    expect(firstPage).toContain('"description"');
    expect(firstPage).not.toContain('"errors"');
    await page.screenshot({ path: path.join(OUTPUT, "graphiql-conversation-log.png") });

    // The docs explorer shows the schema (introspection with the token).
    await page.locator('.graphiql-sidebar button[aria-label="Show Documentation Explorer"]').click();
    await page.locator(".graphiql-doc-explorer").getByText("Query", { exact: true }).first().click();
    await page.locator(".graphiql-doc-explorer", { hasText: "workspaceAuditLog" }).waitFor({ timeout: 15_000 });
    await page.locator('.graphiql-sidebar button[aria-label="Hide Documentation Explorer"]').click();

    // Replace the query with the live tail and start it.
    const editor = page.locator(".graphiql-query-editor .monaco-editor").first();
    await editor.click();
    await page.keyboard.press("Control+A");
    await page.keyboard.press("Delete");
    await page.keyboard.insertText(LIVE_TAIL);
    const tails = () => server.services.liveTail.activeSubscriptions;
    // GraphiQL reads the operation name from the editor after a pause: run only once its tab shows the new one.
    await page.locator(".graphiql-tab-button", { hasText: "LiveTail" }).waitFor({ timeout: 15_000 });
    await page.locator(".graphiql-execute-button").click();
    await until(() => tails() === 1, 15_000, "GraphiQL's subscription to reach the server");

    const marker = `seen-in-browser-${Date.now()}`;
    await recordOver(server.graphqlUrl, await tokenFor(Role.SERVICE, { workspaceId: DEMO_WORKSPACE }), [
      conversationEvent("conv-0001", marker, { action: "conversation.status_changed", changes: [{ field: "status", before: "open", after: marker }] }),
    ]);
    await responseShows(page, marker, 15_000);
    expect(await responseText(page)).toContain("conversation.status_changed");
    await page.screenshot({ path: path.join(OUTPUT, "graphiql-live-tail.png") });

    expect(blocked).toEqual([]);
    expect(refused).toEqual([]);
    expect(requested.length).toBeGreaterThan(3);
    expect(requested.filter((url) => !isLocal(url))).toEqual([]);
    expect(requested.some((url) => url.startsWith("ws://localhost"))).toBe(true);
    await context.close();
  }, 90_000);

  it("keeps the token in localStorage across visits", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.url}/graphql`);
    await page.locator("#token").fill("a-token-to-remember");
    await page.reload();
    expect(await page.locator("#token").inputValue()).toBe("a-token-to-remember");
    await context.close();
  });

  it("leaves API clients' GET /graphql to the API", async () => {
    const response = await fetch(`${server.graphqlUrl}?query=${encodeURIComponent("{ __typename }")}`, {
      headers: { accept: "application/json", "apollo-require-preflight": "true" },
    });
    expect(response.headers.get("content-type")).toContain("application/json");
  });
});

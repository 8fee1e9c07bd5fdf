/**
 * The floor of the live tail: a plain `ws` server, in a process of its own,
 * that sends a message to every socket following a conversation (or `*`, the
 * whole workspace) when the recorder POSTs it to /publish, then answers. It
 * does what the service's delivery must do at the least (one JSON text frame
 * per subscriber) and nothing else: no database, no GraphQL, no cursors.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocket, WebSocketServer } from "ws";

export type FromFloor = { type: "listening"; port: number } | { type: "collected" } | { type: "error"; message: string };

/** The sockets following each conversation, and `*`. */
const followers = new Map<string, Set<WebSocket>>();

const server = http.createServer((request, response) => {
  if (request.method !== "POST" || request.url !== "/publish") {
    response.writeHead(404).end();
    return;
  }
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => {
    const { conversationId, message } = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { conversationId: string; message: string };
    for (const key of [conversationId, "*"]) for (const socket of followers.get(key) ?? []) socket.send(message);
    response.writeHead(204).end();
  });
});

const sockets = new WebSocketServer({ server, maxPayload: 64 * 1024 });
sockets.on("connection", (socket, request) => {
  const key = new URL(request.url ?? "/", "http://localhost").searchParams.get("conversation") ?? "*";
  const set = followers.get(key) ?? followers.set(key, new Set()).get(key)!;
  set.add(socket);
  socket.on("close", () => set.delete(socket));
});

server.listen(0, "127.0.0.1", () => {
  process.send!({ type: "listening", port: (server.address() as AddressInfo).port } satisfies FromFloor);
});
// Started with --expose-gc: the bench asks for a full collection before it reads the RSS.
process.on("message", (message: { type: string }) => {
  if (message.type !== "gc") return;
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  process.send!({ type: "collected" } satisfies FromFloor);
});
process.on("SIGTERM", () => {
  for (const socket of sockets.clients) socket.terminate();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2_000).unref();
});
process.on("disconnect", () => process.exit(0));

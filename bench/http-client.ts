import http from "node:http";

/**
 * GraphQL over HTTP with a keep-alive agent: one socket per concurrent
 * caller, reused for every request, as a real client or gateway would.
 */
export class GraphQLHttpClient {
  private readonly agent: http.Agent;
  private readonly target: URL;

  constructor(url: string, sockets: number) {
    this.target = new URL(url);
    if (this.target.hostname !== "127.0.0.1" && this.target.hostname !== "localhost") throw new Error(`only local targets: ${url}`);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
  }

  /** POSTs a JSON body; resolves with the status and the body's text. */
  post(body: string, token: string): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const request = http.request(
        {
          agent: this.agent,
          host: this.target.hostname,
          port: this.target.port,
          path: this.target.pathname,
          method: "POST",
          headers: {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
            authorization: `Bearer ${token}`,
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("end", () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
          response.on("error", reject);
        },
      );
      request.setTimeout(60_000, () => request.destroy(new Error("no response within 60 s")));
      request.on("error", reject);
      request.end(body);
    });
  }

  /**
   * POSTs an operation and fails unless the answer is 200 without errors.
   * The check is a text search so that the client spends little CPU on a
   * machine it shares with the service.
   */
  async expectData(body: string, token: string): Promise<string> {
    const { status, text } = await this.post(body, token);
    if (status !== 200 || !text.startsWith('{"data"') || text.includes('"errors":[')) {
      throw new Error(`HTTP ${status}: ${text.slice(0, 400)}`);
    }
    return text;
  }

  /** The parsed `data` of an operation that must succeed. */
  async data<T>(query: string, variables: Record<string, unknown>, token: string): Promise<T> {
    const text = await this.expectData(JSON.stringify({ query, variables }), token);
    return (JSON.parse(text) as { data: T }).data;
  }

  close(): void {
    this.agent.destroy();
  }
}

/** `{ query, variables }` as the request body. */
export function operationBody(query: string, variables: Record<string, unknown> = {}): string {
  return JSON.stringify({ query, variables });
}

import http from "node:http";
import { EventInput, RECORD_EVENTS } from "./events";

/** One recording call as its client saw it. */
export interface Call {
  keys: string[];
  settled: Promise<void>;
  /** When the call was sent and when its answer (or failure) came, by `Date.now()`. */
  sentAt: number;
  settledAt?: number;
  /** Whether SIGTERM had been sent when the answer (or the failure) came. */
  settledAfterStop?: boolean;
  status?: number;
  retryAfter?: string;
  body?: {
    data?: { recordAuditEvents: { duplicates: number; events: { id: string }[] } } | null;
    errors?: { message?: string; extensions?: { code?: string } }[];
  };
  /** A network failure: no answer at all. */
  failure?: string;
}

/** Records the events through the agent, as a producer does; the call fills in once its answer (or its failure) is in. */
export function record(agent: http.Agent, baseUrl: string, token: string, events: EventInput[]): Call {
  const call = { keys: events.map((event) => event.idempotencyKey as string), sentAt: Date.now() } as Call;
  call.settled = new Promise<void>((resolve) => {
    const failed = (error: Error) => {
      call.failure = String(error);
      call.settledAt = Date.now();
      resolve();
    };
    const request = http.request(
      `${baseUrl}/graphql`,
      { method: "POST", agent, headers: { "content-type": "application/json", authorization: `Bearer ${token}` } },
      (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (text += chunk));
        response.on("error", failed);
        response.on("end", () => {
          call.settledAt = Date.now();
          call.status = response.statusCode;
          call.retryAfter = response.headers["retry-after"];
          call.body = JSON.parse(text) as Call["body"];
          resolve();
        });
      },
    );
    request.on("error", failed);
    request.end(JSON.stringify({ query: RECORD_EVENTS, variables: { events } }));
  });
  return call;
}

/** The codes of a call's errors. */
export function callCodes(call: Call): (string | undefined)[] {
  return (call.body?.errors ?? []).map((error) => error.extensions?.code);
}

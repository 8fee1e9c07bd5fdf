import type http from "node:http";

/**
 * Stops an HTTP server without losing an answer it owes.
 *
 * Once stopping, the server takes no new connection and closes its idle ones
 * (a request that reaches one of them is never read); every answer from then
 * on says `Connection: close`, and its connection closes after it, so that a
 * keep-alive client sends its next request elsewhere. (Apollo's drain plugin
 * half-closes a connection once it has answered instead: a client that had
 * already sent its next request on it got that request run, and no answer.)
 */
export class HttpDrain {
  private readonly responses = new Set<http.ServerResponse>();
  private stopping = false;
  private whenAnswered?: () => void;

  constructor(private readonly server: http.Server) {
    // First in line, so that it sees each response before any handler can send it.
    server.prependListener("request", (_request: http.IncomingMessage, response: http.ServerResponse) => {
      this.responses.add(response);
      if (this.stopping) response.shouldKeepAlive = false;
      response.once("close", () => {
        this.responses.delete(response);
        if (this.responses.size === 0) this.whenAnswered?.();
      });
    });
  }

  /** Stops taking connections; resolves once every request taken has been answered (or its client has gone). */
  stop(): Promise<void> {
    this.stopping = true;
    for (const response of this.responses) if (!response.headersSent) response.shouldKeepAlive = false;
    // Node's close also destroys the idle keep-alive connections.
    this.server.close();
    return new Promise((resolve) => {
      if (this.responses.size === 0) resolve();
      else this.whenAnswered = resolve;
    });
  }

  /** Cuts every HTTP connection still open, answered or not. */
  destroyConnections(): void {
    this.server.closeAllConnections();
  }
}

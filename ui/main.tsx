import "graphiql/setup-workers/vite";
import "graphiql/style.css";
import "./page.css";
import { createGraphiQLFetcher } from "@graphiql/toolkit";
import { GraphiQL } from "graphiql";
import { createClient } from "graphql-ws";
import { useEffect, useMemo, useState } from "react";
import { createRoot } from "react-dom/client";

/** Where the token is kept between visits. */
const TOKEN_KEY = "audit-log.token";

/** Works for admins and agents on the demo workspace (`npm run seed`). */
const DEFAULT_QUERY = `# Paste a token (npm run seed prints one) in the field above, then press Run.
# More examples: schema/examples/*.graphql in the repository.

query ConversationLog($conversationId: ID! = "conv-0001") {
  viewer { userId role workspaceId }
  conversationAuditLog(conversationId: $conversationId, first: 20) {
    edges {
      cursor
      node {
        occurredAt
        type
        action
        description
        actor { kind name }
        ... on ConversationEvent { csat { rating ratingScale comment } }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
`;

function bearer(token: string): string | undefined {
  const trimmed = token.trim();
  if (!trimmed) return undefined;
  return /^bearer\s/i.test(trimmed) ? trimmed : `Bearer ${trimmed}`;
}

function App() {
  const [token, setToken] = useState(() => localStorage.getItem(TOKEN_KEY) ?? "");

  // One WebSocket client per token: GraphiQL's headers tab does not reach the WebSocket,
  // so the token goes into connectionParams as well as into the HTTP Authorization header.
  const wsClient = useMemo(() => {
    const authorization = bearer(token);
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;
    return createClient({ url, lazy: true, connectionParams: () => (authorization ? { authorization } : {}) });
  }, [token]);
  useEffect(() => () => void wsClient.dispose(), [wsClient]);

  const fetcher = useMemo(() => {
    const authorization = bearer(token);
    return createGraphiQLFetcher({
      url: "/graphql",
      headers: authorization ? { Authorization: authorization } : {},
      wsClient,
    });
  }, [token, wsClient]);

  const saveToken = (value: string) => {
    setToken(value);
    if (value.trim()) localStorage.setItem(TOKEN_KEY, value.trim());
    else localStorage.removeItem(TOKEN_KEY);
  };

  return (
    <div className="page">
      <header className="token-bar">
        <strong>Audit log</strong>
        <label htmlFor="token">Token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="off"
          spellCheck={false}
          placeholder="Paste a bearer token (admin or agent)"
          value={token}
          onChange={(event) => saveToken(event.target.value)}
        />
        <span className={token.trim() ? "token-state set" : "token-state"}>{token.trim() ? "token set" : "no token: introspection only"}</span>
      </header>
      <div className="graphiql-host">
        <GraphiQL key={token} fetcher={fetcher} defaultQuery={DEFAULT_QUERY} />
      </div>
    </div>
  );
}

createRoot(document.getElementById("graphiql")!).render(<App />);

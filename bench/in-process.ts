import { randomUUID } from "node:crypto";
import { DocumentNode, execute, GraphQLSchema, parse, validate } from "graphql";
import { TokenVerifier } from "../src/auth/tokens";
import { createLogger } from "../src/common/logger";
import { AppServices, createServices } from "../src/server/app-services";
import { ContextFactory } from "../src/server/context";
import { buildAppSchema } from "../src/server/schema";
import type { BenchDatabase } from "./bench-database";
import { BenchContext, serviceConfig } from "./context";

/**
 * The service's schema and services in the benchmark's own process: graphql-js
 * `execute` with a context from the service's own ContextFactory.forHttp (the
 * token is verified on every call, as over HTTP), on the same database. What a
 * request costs without the HTTP stack.
 */
export class InProcessApi {
  private readonly documents = new Map<string, DocumentNode>();

  private constructor(
    private readonly schema: GraphQLSchema,
    private readonly services: AppServices,
    private readonly contexts: ContextFactory,
  ) {}

  static async start(context: BenchContext, database: BenchDatabase): Promise<InProcessApi> {
    const config = serviceConfig(context, database.url);
    const logger = createLogger("silent");
    const services = createServices(await database.dataSource(), config, logger);
    const schema = await buildAppSchema(services);
    const contexts = new ContextFactory({ verifier: new TokenVerifier(config.auth), services, logger, introspection: config.introspection });
    return new InProcessApi(schema, services, contexts);
  }

  /** Executes an operation (parsed and validated once per query text); throws its first error. */
  async run(query: string, variableValues: Record<string, unknown>, token: string): Promise<void> {
    const contextValue = await this.contexts.forHttp({ authorization: `Bearer ${token}`, query, requestId: randomUUID() });
    const result = await execute({ schema: this.schema, document: this.document(query), variableValues, contextValue });
    if (result.errors?.length) throw new Error(result.errors[0].message);
  }

  async close(): Promise<void> {
    await this.services.bus.close();
  }

  private document(query: string): DocumentNode {
    let document = this.documents.get(query);
    if (!document) {
      document = parse(query);
      const problems = validate(this.schema, document);
      if (problems.length > 0) throw new Error(`${query.slice(0, 40)}: ${problems[0].message}`);
      this.documents.set(query, document);
    }
    return document;
  }
}

import type { DocumentNode, GraphQLSchema } from "graphql";
import type { Principal } from "../auth/principal";
import type { OperationLimits } from "../config";
import type { CostBudgets, ThrottleStatus } from "./cost-budget";
import { OperationCost, operationCost } from "./operation-cost";

/** An operation let through: what it is, and the `extensions.cost` its answer carries. */
export interface Admission extends Pick<OperationCost, "kind" | "name"> {
  cost: { requested: number; limit: number; throttleStatus?: ThrottleStatus };
}

/**
 * What every operation passes before it runs, over HTTP and WebSocket alike:
 * the limits (QUERY_TOO_COMPLEX), then the caller's budget (RATE_LIMITED).
 * A caller without a token (introspection in development) draws on no budget.
 */
export async function admitOperation(
  operation: { schema: GraphQLSchema; document: DocumentNode; operationName?: string | null; variables?: Readonly<Record<string, unknown>> | null },
  principal: Principal | null,
  limits: OperationLimits,
  budgets: CostBudgets,
): Promise<Admission> {
  const { cost, kind, name } = operationCost(operation.schema, operation.document, operation.operationName, operation.variables, limits);
  const throttleStatus = principal ? await budgets.charge(principal, cost) : undefined;
  return { kind, name, cost: { requested: cost, limit: limits.maxCost, ...(throttleStatus ? { throttleStatus } : {}) } };
}

import type { AuthCheckerFn } from "type-graphql";
import { AuthenticationError, ForbiddenError } from "../common/errors";
import type { AppContext } from "../server/context";
import type { Role } from "./principal";

/**
 * The one role check behind every `@Authorized`. No roles listed: any
 * authenticated caller. Expiry is not checked here but where a token is
 * used: verified per HTTP request and at WebSocket connect, checked again
 * when a WebSocket operation starts and before each subscription delivery.
 * Subscribers share results (SharedSubscriptionExecution), so a result must
 * not depend on whether the token of the one who computed it had expired.
 */
export const authChecker: AuthCheckerFn<AppContext, Role> = ({ context }, roles) => {
  const { principal } = context;
  if (!principal) throw new AuthenticationError();
  if (roles.length === 0 || roles.includes(principal.role)) return true;
  throw new ForbiddenError();
};

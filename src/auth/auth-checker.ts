import type { AuthCheckerFn } from "type-graphql";
import { AuthenticationError, ForbiddenError } from "../common/errors";
import type { AppContext } from "./context";
import type { Role } from "./principal";
import { TokenVerifier } from "./tokens";

/**
 * The one role check behind every `@Authorized`. No roles listed: any
 * authenticated caller. A token that expired since the connection opened
 * (WebSocket) is refused here too.
 */
export const authChecker: AuthCheckerFn<AppContext, Role> = ({ context }, roles) => {
  const { principal } = context;
  if (!principal) throw new AuthenticationError();
  if (!TokenVerifier.isCurrent(principal)) throw new AuthenticationError("The token has expired.");
  if (roles.length === 0 || roles.includes(principal.role)) return true;
  throw new ForbiddenError();
};

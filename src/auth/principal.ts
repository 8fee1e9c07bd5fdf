import { registerEnumType } from "type-graphql";

/** The caller's role, from the verified token's `role` claim (lower case there). */
export enum Role {
  ADMIN = "ADMIN",
  AGENT = "AGENT",
  SERVICE = "SERVICE",
}

registerEnumType(Role, {
  name: "Role",
  description: "The caller's role, taken from the verified bearer token.",
  valuesConfig: {
    ADMIN: { description: "Sees every log of the workspace, including the workspace-wide log." },
    AGENT: { description: "Sees customer and conversation logs of the workspace only." },
    SERVICE: { description: "A producer: records events for its workspace; reads nothing." },
  },
});

/** Token `role` claim values and the roles they grant. */
export const ROLE_CLAIMS: Readonly<Record<string, Role>> = {
  admin: Role.ADMIN,
  agent: Role.AGENT,
  service: Role.SERVICE,
};

/** Who is calling: everything the service knows from a verified token. */
export interface Principal {
  /** `sub`: the user's id (ADMIN, AGENT) or the API client's id (SERVICE). */
  userId: string;
  /** `wid`: the only workspace this caller reads or writes. */
  workspaceId: string;
  role: Role;
  /** `name`, when the token carries one. */
  name?: string;
  /** `exp`, in milliseconds since the epoch. */
  expiresAt: number;
}

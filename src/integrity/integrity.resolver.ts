import { Arg, Authorized, Ctx, ID, Int, Query, Resolver } from "type-graphql";
import { Role } from "../auth/principal";
import { authenticated } from "../server/context";
import type { AppContext } from "../server/context";
import type { IntegrityService } from "./integrity.service";
import { AuditEventInclusionProofType, AuditLogCheckpointType, AuditLogConsistencyProofType, AuditLogSigningKeyType } from "./integrity.types";

@Resolver()
export class IntegrityResolver {
  constructor(private readonly integrity: IntegrityService) {}

  @Authorized(Role.ADMIN)
  @Query(() => AuditLogCheckpointType, { nullable: true, description: "The latest signed checkpoint of the workspace's Merkle log; null before the first. ADMIN only." })
  async auditLogCheckpoint(@Ctx() context: AppContext): Promise<AuditLogCheckpointType | null> {
    return this.integrity.latestCheckpoint(authenticated(context).principal);
  }

  @Authorized(Role.ADMIN)
  @Query(() => AuditEventInclusionProofType, { description: "That the event is in the log a checkpoint signed (the latest when treeSize is omitted). ADMIN only." })
  async auditEventInclusionProof(
    @Arg("id", () => ID) id: string,
    @Arg("treeSize", () => Int, { nullable: true, description: "The size of the checkpoint to prove against." }) treeSize: number | null,
    @Ctx() context: AppContext,
  ): Promise<AuditEventInclusionProofType> {
    return this.integrity.inclusionProof(authenticated(context).principal, id, treeSize ?? null);
  }

  @Authorized(Role.ADMIN)
  @Query(() => AuditLogConsistencyProofType, { description: "That a checkpoint's log extends an earlier one's unchanged (toSize: the latest when omitted). ADMIN only." })
  async auditLogConsistencyProof(
    @Arg("fromSize", () => Int) fromSize: number,
    @Arg("toSize", () => Int, { nullable: true }) toSize: number | null,
    @Ctx() context: AppContext,
  ): Promise<AuditLogConsistencyProofType> {
    return this.integrity.consistencyProof(authenticated(context).principal, fromSize, toSize ?? null);
  }

  @Authorized()
  @Query(() => AuditLogSigningKeyType, { description: "The public key checkpoints are signed with: all a verifier needs besides a checkpoint and a proof." })
  auditLogSigningKey(): AuditLogSigningKeyType {
    return this.integrity.signingKey();
  }
}

import { createPublicKey } from "node:crypto";
import { Principal, Role } from "../auth/principal";
import { BadUserInputError, ForbiddenError, NotFoundError } from "../common/errors";
import { findEventById } from "../database/audit-event.repository";
import { isEventId } from "../database/audit-event.storage";
import { checkpointOfSize, latestCheckpoint } from "../database/merkle-checkpoint.repository";
import { storedSubtrees } from "../database/merkle-tile.repository";
import type { Queryable } from "../database/statements";
import { Checkpoint, checkpointNote, keyFingerprint } from "./checkpoint";
import { leafData } from "./event-leaf";
import { consistencyProof, inclusionProof, leafHash } from "./merkle";
import type { AuditEventInclusionProofType, AuditLogCheckpointType, AuditLogConsistencyProofType, AuditLogSigningKeyType } from "./integrity.types";

/**
 * The workspace's Merkle log as an admin shows it in an investigation: its
 * latest checkpoint, an event's inclusion proof against a checkpoint, a
 * consistency proof between two, and the key that signs them.
 */
export class IntegrityService {
  private readonly key: AuditLogSigningKeyType;

  /** `signingKey`: the private key (PEM) whose public half is served. */
  constructor(
    private readonly reads: Queryable,
    signingKey: string,
  ) {
    const publicKey = createPublicKey(signingKey);
    this.key = { algorithm: "Ed25519", fingerprint: keyFingerprint(publicKey), publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString() };
  }

  signingKey(): AuditLogSigningKeyType {
    return this.key;
  }

  async latestCheckpoint(principal: Principal): Promise<AuditLogCheckpointType | null> {
    const checkpoint = await latestCheckpoint(this.reads, adminWorkspace(principal));
    return checkpoint ? shown(checkpoint) : null;
  }

  /** The event's inclusion proof against the checkpoint of `treeSize` (the latest when null). */
  async inclusionProof(principal: Principal, eventId: string, treeSize: number | null): Promise<AuditEventInclusionProofType> {
    const workspaceId = adminWorkspace(principal);
    const event = isEventId(eventId) ? await findEventById(this.reads, workspaceId, eventId) : null;
    if (!event) throw new NotFoundError(`Audit event ${JSON.stringify(eventId)}`);
    const checkpoint = await this.checkpoint(workspaceId, treeSize, "treeSize");
    if (event.seq > checkpoint.treeSize) {
      throw new BadUserInputError(
        `The event (seq ${event.seq}) came after the checkpoint of size ${checkpoint.treeSize}; a later checkpoint covers it once signed (AUDIT_CHECKPOINT_INTERVAL).`,
        [{ path: "treeSize", message: `does not cover seq ${event.seq}` }],
      );
    }
    const data = leafData(event);
    const path = await inclusionProof(storedSubtrees(this.reads, workspaceId), event.seq - 1, checkpoint.treeSize);
    return {
      eventId: event.id,
      leafIndex: event.seq - 1,
      leafData: data.toString("utf8"),
      leafHash: leafHash(data).toString("base64"),
      auditPath: path.map((hash) => hash.toString("base64")),
      checkpoint: shown(checkpoint),
    };
  }

  /** That the checkpoint of `toSize` (the latest when null) extends the checkpoint of `fromSize`. */
  async consistencyProof(principal: Principal, fromSize: number, toSize: number | null): Promise<AuditLogConsistencyProofType> {
    const workspaceId = adminWorkspace(principal);
    const from = await this.checkpoint(workspaceId, fromSize, "fromSize");
    const to = await this.checkpoint(workspaceId, toSize, "toSize");
    if (from.treeSize > to.treeSize) {
      throw new BadUserInputError(`fromSize (${from.treeSize}) is larger than toSize (${to.treeSize}).`, [{ path: "fromSize", message: "must not exceed toSize" }]);
    }
    const path = await consistencyProof(storedSubtrees(this.reads, workspaceId), from.treeSize, to.treeSize);
    return { from: shown(from), to: shown(to), path: path.map((hash) => hash.toString("base64")) };
  }

  private async checkpoint(workspaceId: string, treeSize: number | null, argument: string): Promise<Checkpoint> {
    if (treeSize !== null && (!Number.isInteger(treeSize) || treeSize < 1)) {
      throw new BadUserInputError(`${argument} must be a checkpoint's size, 1 or more.`, [{ path: argument, message: "must be 1 or more" }]);
    }
    const checkpoint = treeSize === null ? await latestCheckpoint(this.reads, workspaceId) : await checkpointOfSize(this.reads, workspaceId, treeSize);
    if (!checkpoint) throw new NotFoundError(treeSize === null ? "A checkpoint of the workspace's log (none is signed yet)" : `A checkpoint of size ${treeSize}`);
    return checkpoint;
  }
}

/** Proofs are evidence for an investigation: admins only, of their own workspace. */
function adminWorkspace(principal: Principal): string {
  if (principal.role !== Role.ADMIN) throw new ForbiddenError();
  return principal.workspaceId;
}

function shown(checkpoint: Checkpoint): AuditLogCheckpointType {
  return {
    workspaceId: checkpoint.workspaceId,
    treeSize: checkpoint.treeSize,
    rootHash: checkpoint.rootHash.toString("base64"),
    signedAt: checkpoint.signedAt,
    keyFingerprint: checkpoint.keyFingerprint,
    signature: checkpoint.signature.toString("base64"),
    note: checkpointNote(checkpoint).toString("utf8"),
  };
}

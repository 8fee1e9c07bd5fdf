import { Field, ID, Int, ObjectType } from "type-graphql";

@ObjectType("AuditLogCheckpoint", {
  simpleResolvers: true,
  description: "A signed checkpoint of the workspace's Merkle log (docs/integrity.md): its size and root when it was signed.",
})
export class AuditLogCheckpointType {
  @Field(() => ID)
  workspaceId!: string;

  @Field(() => Int, { description: "Events in the log: those of seq 1 to treeSize." })
  treeSize!: number;

  @Field(() => String, { description: "The log's root hash (RFC 6962, SHA-256), base64." })
  rootHash!: string;

  @Field(() => Date)
  signedAt!: Date;

  @Field(() => String, { description: "Which key signed: the first 8 bytes of SHA-256 over the raw Ed25519 public key, hex." })
  keyFingerprint!: string;

  @Field(() => String, { description: "The Ed25519 signature of `note`, base64." })
  signature!: string;

  @Field(() => String, { description: "The signed text: `audit-log/<workspace>`, the size, the root and the time, a line each." })
  note!: string;
}

@ObjectType("AuditEventInclusionProof", { simpleResolvers: true, description: "That an event is in the workspace's log as a checkpoint signed it." })
export class AuditEventInclusionProofType {
  @Field(() => ID)
  eventId!: string;

  @Field(() => Int, { description: "The event's leaf in the log: its seq less one." })
  leafIndex!: number;

  @Field(() => String, { description: "What the leaf hashes: the event as stored now, canonical JSON (docs/integrity.md)." })
  leafData!: string;

  @Field(() => String, { description: "SHA-256(0x00 ‖ leafData), base64." })
  leafHash!: string;

  @Field(() => [String], { description: "The audit path (RFC 6962 §2.1.1) from the leaf up, base64." })
  auditPath!: string[];

  @Field(() => AuditLogCheckpointType)
  checkpoint!: AuditLogCheckpointType;
}

@ObjectType("AuditLogConsistencyProof", { simpleResolvers: true, description: "That a checkpoint's log holds an earlier one's unchanged, and more after it." })
export class AuditLogConsistencyProofType {
  @Field(() => AuditLogCheckpointType)
  from!: AuditLogCheckpointType;

  @Field(() => AuditLogCheckpointType)
  to!: AuditLogCheckpointType;

  @Field(() => [String], { description: "The consistency proof (RFC 6962 §2.1.2), base64." })
  path!: string[];
}

@ObjectType("AuditLogSigningKey", { simpleResolvers: true, description: "The public key that checkpoints are signed with." })
export class AuditLogSigningKeyType {
  @Field(() => String, { description: "Ed25519." })
  algorithm!: string;

  @Field(() => String)
  fingerprint!: string;

  @Field(() => String, { description: "The public key, SPKI PEM." })
  publicKeyPem!: string;
}

/**
 * A signed checkpoint of a workspace's Merkle log: its size and root at a
 * time, signed with the service's Ed25519 key. The signed bytes are the
 * checkpoint's note, in the spirit of the C2SP checkpoint format:
 *
 *     audit-log/<workspace id>
 *     <tree size>
 *     <root hash, base64>
 *     <signed at, ISO 8601 UTC with milliseconds>
 *
 * each line ending in "\n", in UTF-8. A verifier needs the note's values,
 * the signature and the public key; nothing from the database.
 */
import { createHash, createPrivateKey, createPublicKey, KeyObject, sign, verify } from "node:crypto";

export interface Checkpoint {
  workspaceId: string;
  treeSize: number;
  rootHash: Buffer;
  signedAt: Date;
  /** The first 8 bytes of SHA-256 of the public key (raw 32 bytes), in hex: which key signed. */
  keyFingerprint: string;
  signature: Buffer;
}

/** The bytes a checkpoint's signature covers. */
export function checkpointNote(checkpoint: Pick<Checkpoint, "workspaceId" | "treeSize" | "rootHash" | "signedAt">): Buffer {
  return Buffer.from(
    `audit-log/${checkpoint.workspaceId}\n${checkpoint.treeSize}\n${checkpoint.rootHash.toString("base64")}\n${checkpoint.signedAt.toISOString()}\n`,
    "utf8",
  );
}

/** The service's signing key and what a verifier needs of it. */
export class CheckpointSigner {
  private readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly fingerprint: string;

  /** `pem`: an Ed25519 private key, PKCS#8 PEM (AUDIT_SIGNING_KEY). */
  constructor(pem: string) {
    this.privateKey = createPrivateKey(pem);
    this.publicKey = createPublicKey(this.privateKey);
    this.fingerprint = keyFingerprint(this.publicKey);
  }

  sign(workspaceId: string, treeSize: number, rootHash: Buffer, signedAt: Date): Checkpoint {
    const unsigned = { workspaceId, treeSize, rootHash, signedAt };
    return { ...unsigned, keyFingerprint: this.fingerprint, signature: sign(null, checkpointNote(unsigned), this.privateKey) };
  }
}

/** Whether the checkpoint's signature is the key's over its note. */
export function checkpointSignedBy(checkpoint: Checkpoint, publicKey: KeyObject): boolean {
  return verify(null, checkpointNote(checkpoint), publicKey, checkpoint.signature);
}

/** DER of a PKCS#8 Ed25519 private key up to its 32-byte seed (RFC 8410). */
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

/** The Ed25519 private key (PKCS#8 PEM) of a 32-byte seed: a key that can be made again from the same seed. */
export function ed25519KeyFromSeed(seed: Buffer): string {
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: "der", type: "pkcs8" }).export({ type: "pkcs8", format: "pem" }).toString();
}

export function keyFingerprint(publicKey: KeyObject): string {
  const raw = publicKey.export({ format: "jwk" }).x as string;
  return createHash("sha256").update(Buffer.from(raw, "base64url")).digest().subarray(0, 8).toString("hex");
}

import { hash } from "node:crypto";

/**
 * SHA-256 of bytes, or of text as its UTF-8 bytes, as a Buffer. Asked for
 * hex and decoded here: a Buffer that Node's crypto makes in its native code
 * costs several times the digest of a short input, while a 64-character
 * string and a Buffer decoded from it in JavaScript do not. The Merkle
 * sequencer hashes two inputs per event and the recorder one (figures in
 * docs/performance.md).
 */
export function sha256(input: Buffer | string): Buffer {
  return Buffer.from(hash("sha256", input, "hex"), "hex");
}

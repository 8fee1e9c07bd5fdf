/**
 * A Merkle tree as RFC 6962 (and RFC 9162) defines it, over a log's leaves
 * in order: leaf = SHA-256(0x00 ‖ data), node = SHA-256(0x01 ‖ left ‖ right),
 * and a tree of n leaves splits at the largest power of two below n. Its
 * proofs (inclusion of a leaf, consistency of two sizes) and their checks
 * are here; where the hashes come from is the caller's (tiles in the
 * database, or leaves in memory).
 */
import { sha256 } from "../common/sha256";

export const HASH_BYTES = 32;
const LEAF_PREFIX = Buffer.from([0]);
const NODE_PREFIX = Buffer.from([1]);

/*
 * One-shot hashes (see ../common/sha256.ts) rather than a Hash object per
 * leaf and node: the sequencer hashes two per event, and for inputs this
 * short the object costs more than the hashing.
 */

/** The leaf hash of `data`; data given as text is hashed as its UTF-8 bytes, without a Buffer made of it first. */
export function leafHash(data: Buffer | string): Buffer {
  return sha256(typeof data === "string" ? `\u0000${data}` : Buffer.concat([LEAF_PREFIX, data]));
}

/** Where a node's input is written before it is hashed: a Buffer.concat per node costs as much as its hash. */
const NODE_INPUT = Buffer.alloc(1 + 2 * HASH_BYTES);
NODE_INPUT[0] = 1;

export function nodeHash(left: Buffer, right: Buffer): Buffer {
  if (left.length !== HASH_BYTES || right.length !== HASH_BYTES) return sha256(Buffer.concat([NODE_PREFIX, left, right]));
  left.copy(NODE_INPUT, 1);
  right.copy(NODE_INPUT, 1 + HASH_BYTES);
  return sha256(NODE_INPUT);
}

/** The root of a tree with no leaf. */
export const EMPTY_ROOT = sha256("");

/** The hash of a complete subtree: 2^height leaves from leaf index × 2^height. */
export type SubtreeHashes = (height: number, index: number) => Promise<Buffer>;

/** The largest power of two smaller than n (n ≥ 2). */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isCompleteSubtree(start: number, size: number): boolean {
  return size > 0 && (size & (size - 1)) === 0 && start % size === 0;
}

/** MTH(D[start:end]) for a range the RFC's recursion reaches: complete subtrees come from `subtrees`, the rest is split. */
export async function rangeHash(subtrees: SubtreeHashes, start: number, end: number): Promise<Buffer> {
  const size = end - start;
  if (size === 0) return EMPTY_ROOT;
  if (isCompleteSubtree(start, size)) return subtrees(Math.log2(size), start / size);
  const k = splitPoint(size);
  return nodeHash(await rangeHash(subtrees, start, start + k), await rangeHash(subtrees, start + k, end));
}

/** The root of the first `size` leaves. */
export function treeRoot(subtrees: SubtreeHashes, size: number): Promise<Buffer> {
  return rangeHash(subtrees, 0, size);
}

/** PATH(m, D[0:n]) (RFC 6962 §2.1.1): the audit path of leaf `index` in the tree of `size` leaves, leaf side first. */
export async function inclusionProof(subtrees: SubtreeHashes, index: number, size: number): Promise<Buffer[]> {
  if (index < 0 || index >= size) throw new RangeError(`leaf ${index} is not in a tree of ${size}`);
  const path: Buffer[] = [];
  let start = 0;
  let end = size;
  // Walk down from the root, keeping the sibling of each subtree the leaf is in; the path lists them from the leaf up.
  while (end - start > 1) {
    const k = splitPoint(end - start);
    if (index < start + k) {
      path.push(await rangeHash(subtrees, start + k, end));
      end = start + k;
    } else {
      path.push(await rangeHash(subtrees, start, start + k));
      start += k;
    }
  }
  return path.reverse();
}

/** PROOF(m, D[0:n]) (RFC 6962 §2.1.2): that the tree of `oldSize` leaves is a prefix of the tree of `newSize`. */
export async function consistencyProof(subtrees: SubtreeHashes, oldSize: number, newSize: number): Promise<Buffer[]> {
  if (oldSize < 0 || oldSize > newSize) throw new RangeError(`no consistency from ${oldSize} to ${newSize}`);
  if (oldSize === 0 || oldSize === newSize) return [];
  const proof: Buffer[] = [];
  const subproof = async (m: number, start: number, end: number, whole: boolean): Promise<void> => {
    const n = end - start;
    if (m === n) {
      if (!whole) proof.push(await rangeHash(subtrees, start, end));
      return;
    }
    const k = splitPoint(n);
    if (m <= k) {
      await subproof(m, start, start + k, whole);
      proof.push(await rangeHash(subtrees, start + k, end));
    } else {
      await subproof(m - k, start + k, end, false);
      proof.push(await rangeHash(subtrees, start, start + k));
    }
  };
  await subproof(oldSize, 0, newSize, true);
  return proof;
}

/** RFC 9162 §2.1.3.2: whether `path` proves leaf `index` (its hash `leaf`) in the tree of `size` leaves whose root is `root`. */
export function verifyInclusion(leaf: Buffer, index: number, size: number, path: readonly Buffer[], root: Buffer): boolean {
  if (index < 0 || index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      [fn, sn] = shiftWhileEven(fn, sn);
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(root);
}

/** RFC 9162 §2.1.4.2: whether `proof` shows the tree (`oldSize`, `oldRoot`) to be a prefix of (`newSize`, `newRoot`). */
export function verifyConsistency(oldSize: number, newSize: number, oldRoot: Buffer, newRoot: Buffer, proof: readonly Buffer[]): boolean {
  if (oldSize < 0 || oldSize > newSize) return false;
  if (oldSize === newSize) return proof.length === 0 && oldRoot.equals(newRoot);
  if (oldSize === 0) return proof.length === 0;
  if (proof.length === 0) return false;
  let path = [...proof];
  // When the old tree is a complete subtree at the left edge, its root is the proof's implicit first node.
  if ((oldSize & (oldSize - 1)) === 0) path = [oldRoot, ...path];
  if (path.length === 0) return false;
  let fn = oldSize - 1;
  let sn = newSize - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      [fn, sn] = shiftWhileEven(fn, sn);
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return fr.equals(oldRoot) && sr.equals(newRoot) && sn === 0;
}

/** RFC 9162's step after a left sibling: shift both indexes right until the first is odd or 0. */
function shiftWhileEven(fn: number, sn: number): [number, number] {
  while (fn % 2 === 0 && fn !== 0) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return [fn, sn];
}

/** Subtree hashes over leaf hashes held in memory: for tests and for a verifier that recomputes a whole log. */
export function inMemorySubtrees(leaves: readonly Buffer[]): SubtreeHashes {
  const memo = new Map<string, Buffer>();
  const hash = (height: number, index: number): Buffer => {
    if (height === 0) return leaves[index];
    const key = `${height}:${index}`;
    let found = memo.get(key);
    if (!found) {
      found = nodeHash(hash(height - 1, index * 2), hash(height - 1, index * 2 + 1));
      memo.set(key, found);
    }
    return found;
  };
  return async (height, index) => hash(height, index);
}

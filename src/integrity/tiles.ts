/**
 * A Merkle log's hashes in tiles (the C2SP tlog-tiles layout): the tile
 * (level L, index N) holds up to {@link TILE_WIDTH} consecutive hashes of the
 * tree's level 8L, from hash 256N on. Level 0 holds the leaf hashes; an entry
 * of level L + 1 is the root of a complete tile of level L. Any complete
 * subtree's hash comes from the entries of one tile.
 */
import { nodeHash, SubtreeHashes } from "./merkle";

/** Hashes a full tile holds. */
export const TILE_WIDTH = 256;
/** Tree levels one tile level spans: 2^8 = 256. */
export const TILE_HEIGHT = 8;

export interface Tile {
  level: number;
  index: number;
  hashes: Buffer[];
}

/** Where a tile is: its level and index. */
export interface TileCoordinates {
  level: number;
  index: number;
}

/** Hashes a tree of this many leaves holds at a tile level. */
function entriesAt(size: number, level: number): number {
  return Math.floor(size / TILE_WIDTH ** level);
}

/**
 * The tiles a tree of `size` leaves has partly filled, one per level at
 * most: what {@link appendLeaves} needs to read before it appends.
 */
export function partialTiles(size: number): TileCoordinates[] {
  const partial: TileCoordinates[] = [];
  for (let level = 0; entriesAt(size, level) > 0; level++) {
    const entries = entriesAt(size, level);
    if (entries % TILE_WIDTH > 0) partial.push({ level, index: Math.floor(entries / TILE_WIDTH) });
  }
  return partial;
}

/**
 * Appends leaf hashes to a tree of `size` leaves. `partial` gives the
 * entries of each tile {@link partialTiles} names. Returns every tile that
 * changed or is new, with all its entries, bottom level first.
 */
export function appendLeaves(size: number, partial: (coordinates: TileCoordinates) => Buffer[], leaves: readonly Buffer[]): Tile[] {
  const changed: Tile[] = [];
  let entries: readonly Buffer[] = leaves;
  for (let level = 0; entries.length > 0; level++) {
    const before = entriesAt(size, level);
    let index = Math.floor(before / TILE_WIDTH);
    let current = before % TILE_WIDTH > 0 ? [...partial({ level, index })] : [];
    if (current.length !== before % TILE_WIDTH) throw new Error(`tile ${level}/${index} holds ${current.length} hashes, not ${before % TILE_WIDTH}`);
    const completed: Buffer[] = [];
    for (const entry of entries) {
      current.push(entry);
      if (current.length === TILE_WIDTH) {
        changed.push({ level, index, hashes: current });
        completed.push(hashUp(current));
        index++;
        current = [];
      }
    }
    if (current.length > 0) changed.push({ level, index, hashes: current });
    entries = completed;
  }
  return changed;
}

/** The root of a complete subtree over 2^k consecutive entries of one level. */
export function hashUp(entries: readonly Buffer[]): Buffer {
  let level = entries;
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(nodeHash(level[i], level[i + 1]));
    level = next;
  }
  return level[0];
}

/**
 * Complete subtrees' hashes read from tiles: the subtree of height h at
 * index i is 2^(h mod 8) entries of one tile at level ⌊h / 8⌋, hashed up.
 * `read` gives a tile's entries; each tile is read once per reader.
 */
export function subtreesFromTiles(read: (coordinates: TileCoordinates) => Promise<Buffer[]>): SubtreeHashes {
  const tiles = new Map<string, Promise<Buffer[]>>();
  return async (height, index) => {
    const level = Math.floor(height / TILE_HEIGHT);
    const span = 2 ** (height - level * TILE_HEIGHT);
    const first = index * span;
    const coordinates = { level, index: Math.floor(first / TILE_WIDTH) };
    const key = `${coordinates.level}/${coordinates.index}`;
    let tile = tiles.get(key);
    if (!tile) {
      tile = read(coordinates);
      tiles.set(key, tile);
    }
    const offset = first % TILE_WIDTH;
    const entries = (await tile).slice(offset, offset + span);
    if (entries.length !== span) throw new Error(`tile ${key} does not hold the subtree ${height}/${index}`);
    return hashUp(entries);
  };
}

import type { DataSource } from "typeorm";

/**
 * What the workspace log's search can find. InnoDB's FULLTEXT index (on
 * MariaDB and MySQL alike) holds no word shorter than
 * `innodb_ft_min_token_size` and no stop word, so such a word can never
 * narrow a search: required, it would match nothing; left out, it leaves the
 * search wider than the user asked, or empty, which would match every event.
 */
export interface SearchVocabulary {
  /** Characters of the shortest word the index holds (`innodb_ft_min_token_size`). */
  minWordLength: number;
  /** The stop words, lower-case. */
  stopwords: ReadonlySet<string>;
}

/** Words of one search that are used, each as a required prefix; later ones are ignored. @default 10 */
export const MAX_SEARCH_WORDS = 10;

/** InnoDB's default stop-word list, for a server that does not let it be read. */
const INNODB_DEFAULT_STOPWORDS: ReadonlySet<string> = new Set(
  "a about an are as at be by com de en for from how i in is it la of on or that the this to was what when where who will with und www".split(" "),
);

/** A search as the index can run it. */
export interface ParsedSearch {
  /** A boolean-mode expression: every word required, as a prefix; null when no word can be found. */
  expression: string | null;
  /** Words left out, as typed: too short, stop words, or past {@link MAX_SEARCH_WORDS}. */
  ignored: string[];
}

/**
 * Splits what a user typed into words (runs of letters, marks and digits:
 * search syntax is only ever a separator, so no input can make the query
 * fail) and keeps those the index can hold.
 */
export function parseSearch(text: string, vocabulary: SearchVocabulary): ParsedSearch {
  const used = new Set<string>();
  const ignored = new Map<string, string>();
  for (const word of text.normalize("NFC").split(/[^\p{L}\p{M}\p{N}]+/u)) {
    if (word === "") continue;
    const lower = word.toLowerCase();
    if (used.has(lower)) continue;
    const findable = [...word].length >= vocabulary.minWordLength && !vocabulary.stopwords.has(lower);
    if (findable && used.size < MAX_SEARCH_WORDS) used.add(lower);
    else if (!ignored.has(lower)) ignored.set(lower, word);
  }
  return { expression: used.size === 0 ? null : [...used].map((word) => `+${word}*`).join(" "), ignored: [...ignored.values()] };
}

/**
 * The server's vocabulary: its minimum token size, and the stop words of its
 * server-wide table, or InnoDB's default list, or none when stop words are
 * off. An index keeps the stop words in force when it was built; these are
 * the ones in force now, which is the same unless someone changed them and
 * did not rebuild. Reading InnoDB's default list needs the PROCESS
 * privilege: a list that cannot be read is taken to be InnoDB's default one
 * as it ships.
 */
export async function readSearchVocabulary(dataSource: DataSource): Promise<SearchVocabulary> {
  const [settings]: { min: number | string; enabled: number | string; serverTable: string | null }[] = await dataSource.query(
    `SELECT @@innodb_ft_min_token_size AS min, @@innodb_ft_enable_stopword AS enabled, @@innodb_ft_server_stopword_table AS serverTable`,
  );
  const minWordLength = Number(settings.min);
  if (!Number(settings.enabled)) return { minWordLength, stopwords: new Set() };
  const table = settings.serverTable ? settings.serverTable.split("/").map(quoteIdentifier).join(".") : "INFORMATION_SCHEMA.INNODB_FT_DEFAULT_STOPWORD";
  try {
    const rows: { value: string }[] = await dataSource.query(`SELECT value FROM ${table}`);
    return { minWordLength, stopwords: new Set(rows.map((row) => row.value.toLowerCase())) };
  } catch {
    return { minWordLength, stopwords: INNODB_DEFAULT_STOPWORDS };
  }
}

function quoteIdentifier(name: string): string {
  return `\`${name.replaceAll("`", "``")}\``;
}

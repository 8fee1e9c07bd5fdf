import type { Queryable } from "./statements";

/**
 * What InnoDB's FULLTEXT index (on MariaDB and MySQL alike) can hold: no
 * word shorter than `innodb_ft_min_token_size` and no stop word.
 */
export interface FulltextVocabulary {
  /** Characters of the shortest word the index holds (`innodb_ft_min_token_size`). */
  minWordLength: number;
  /** The stop words, lower-case. */
  stopwords: ReadonlySet<string>;
}

/** InnoDB's default stop-word list, for a server that does not let it be read. */
const INNODB_DEFAULT_STOPWORDS: ReadonlySet<string> = new Set(
  "a about an are as at be by com de en for from how i in is it la of on or that the this to was what when where who will with und www".split(" "),
);

/**
 * The server's vocabulary: its minimum token size, and the stop words of its
 * server-wide table, or InnoDB's default list, or none when stop words are
 * off. An index keeps the stop words in force when it was built; these are
 * the ones in force now, which is the same unless someone changed them and
 * did not rebuild. Reading InnoDB's default list needs the PROCESS
 * privilege: a list that cannot be read is taken to be InnoDB's default one
 * as it ships.
 */
export async function readFulltextVocabulary(database: Queryable): Promise<FulltextVocabulary> {
  const [settings] = (await database.query(
    `SELECT @@innodb_ft_min_token_size AS min, @@innodb_ft_enable_stopword AS enabled, @@innodb_ft_server_stopword_table AS serverTable`,
  )) as { min: number | string; enabled: number | string; serverTable: string | null }[];
  const minWordLength = Number(settings.min);
  if (!Number(settings.enabled)) return { minWordLength, stopwords: new Set() };
  const table = settings.serverTable ? settings.serverTable.split("/").map(quoteIdentifier).join(".") : "INFORMATION_SCHEMA.INNODB_FT_DEFAULT_STOPWORD";
  try {
    const rows = (await database.query(`SELECT value FROM ${table}`)) as { value: string }[];
    return { minWordLength, stopwords: new Set(rows.map((row) => row.value.toLowerCase())) };
  } catch {
    return { minWordLength, stopwords: INNODB_DEFAULT_STOPWORDS };
  }
}

function quoteIdentifier(name: string): string {
  return `\`${name.replaceAll("`", "``")}\``;
}

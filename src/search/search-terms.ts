/**
 * What the workspace log's search finds: words, folded so that case and
 * accents do not count, each searched as a prefix of the words of an event.
 *
 * A word is a run of letters, marks and digits; anything else separates
 * words, so no search text is syntax and none can make a query fail. Words
 * shorter than {@link MIN_WORD_LENGTH} and the {@link STOPWORDS} are not
 * indexed and not searched: they would match nearly every event. The same
 * functions make an event's terms when it is recorded and a search's words
 * when it is asked, so the two always agree.
 */

/** Characters of the shortest word that is indexed and searched. @default 3 */
export const MIN_WORD_LENGTH = 3;

/** Words of one search that are used, each as a required prefix; later ones are ignored. @default 10 */
export const MAX_SEARCH_WORDS = 10;

/**
 * Characters a term keeps: a longer word is indexed, and searched, by its
 * first this many characters (both sides are cut alike, so a long word still
 * finds itself).
 */
export const MAX_TERM_LENGTH = 48;

/** Words too common to narrow a search (InnoDB's default FULLTEXT stop words, which the search used before). */
export const STOPWORDS: ReadonlySet<string> = new Set(
  "a about an are as at be by com de en for from how i in is it la of on or that the this to was what when where who will with und www".split(" "),
);

const WORD_SEPARATOR = /[^\p{L}\p{M}\p{N}]+/u;
const MARKS = /\p{M}+/gu;
const NON_ASCII = /[^\x00-\x7f]/;
/** Letters that are not a base letter plus marks, but that the Unicode collation treats as one or two base letters. */
const LETTER_EXPANSIONS: Readonly<Record<string, string>> = { ß: "ss", æ: "ae", œ: "oe", ø: "o", đ: "d", ð: "d", ł: "l", þ: "th", ı: "i", ħ: "h", ŋ: "n" };
const EXPANDED_LETTERS = new RegExp(`[${Object.keys(LETTER_EXPANSIONS).join("")}]`, "g");

/**
 * A word as it is indexed and compared: lower case, accents and other marks
 * removed, the letters of {@link LETTER_EXPANSIONS} spelled out, cut to
 * {@link MAX_TERM_LENGTH}. "Ärger", "ärger" and "arger" fold alike, as
 * `utf8mb4_unicode_ci` compares them.
 */
export function foldWord(word: string): string {
  let folded = word.toLowerCase();
  if (NON_ASCII.test(folded)) {
    folded = folded
      .normalize("NFD")
      .replace(MARKS, "")
      .replace(EXPANDED_LETTERS, (letter) => LETTER_EXPANSIONS[letter])
      .normalize("NFC");
  }
  return folded.length > MAX_TERM_LENGTH ? [...folded].slice(0, MAX_TERM_LENGTH).join("") : folded;
}

/** Whether a folded word can be indexed and searched: long enough (in characters, not UTF-16 units) and not a stop word. */
function isFindable(folded: string): boolean {
  return (folded.length >= 2 * MIN_WORD_LENGTH || [...folded].length >= MIN_WORD_LENGTH) && !STOPWORDS.has(folded);
}

/**
 * The distinct terms of a text, in order of first appearance: what an event
 * is indexed by. Applied to its own output it returns the same terms, so a
 * stored list of terms and the text it came from index alike.
 */
export function termsOf(text: string): string[] {
  const terms = new Set<string>();
  for (const word of text.normalize("NFC").split(WORD_SEPARATOR)) {
    if (word === "") continue;
    const folded = foldWord(word);
    if (isFindable(folded)) terms.add(folded);
  }
  return [...terms];
}

/**
 * The terms of an event's stored `search_text`. Since the search index
 * exists, the recorder stores {@link termsOf} joined by single spaces, which
 * is read back by splitting; rows stored before it hold the raw text, whose
 * parts (the description, the actor's name, ...) are joined by newlines, and
 * are tokenized again. Terms never hold a newline, so the two cannot be
 * mistaken for each other.
 */
export function storedTerms(searchText: string): string[] {
  if (searchText.includes("\n")) return termsOf(searchText);
  return searchText === "" ? [] : searchText.split(" ");
}

/** A search as the index runs it. */
export interface ParsedSearch {
  /** Folded words, each required as the prefix of a term; empty when no word can be found. */
  words: string[];
  /** Words left out, as typed: too short, stop words, or past {@link MAX_SEARCH_WORDS}. */
  ignored: string[];
}

/** Splits what a user typed into words and keeps those the index can find. */
export function parseSearch(text: string): ParsedSearch {
  const used = new Set<string>();
  const ignored = new Map<string, string>();
  for (const word of text.normalize("NFC").split(WORD_SEPARATOR)) {
    if (word === "") continue;
    const folded = foldWord(word);
    if (used.has(folded)) continue;
    if (isFindable(folded) && used.size < MAX_SEARCH_WORDS) used.add(folded);
    else if (!ignored.has(folded)) ignored.set(folded, word);
  }
  return { words: [...used], ignored: [...ignored.values()] };
}

/** Whether every word is the prefix of one of the terms. */
export function matchesEveryWord(terms: readonly string[], words: readonly string[]): boolean {
  return words.every((word) => terms.some((term) => term.startsWith(word)));
}

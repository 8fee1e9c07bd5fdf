import { DocumentNode, GraphQLError, Lexer, parse, ParseOptions, Source, TokenKind } from "graphql";
import { BadUserInputError } from "./errors";

/**
 * Brackets (`{`, `[`, `(`) a document may nest. graphql-js parses, validates
 * and coerces nested selections and values recursively: a few thousand levels
 * exhaust the stack. Introspection nests about a dozen, JSON metadata written
 * inline up to 16 more.
 */
export const MAX_DOCUMENT_DEPTH = 64;
/** Lexical tokens of a document: 1000 events written inline in a recording take about 75,000. */
export const MAX_DOCUMENT_TOKENS = 100_000;

const OPENING = new Set<TokenKind>([TokenKind.BRACE_L, TokenKind.BRACKET_L, TokenKind.PAREN_L]);
const CLOSING = new Set<TokenKind>([TokenKind.BRACE_R, TokenKind.BRACKET_R, TokenKind.PAREN_R]);

/**
 * Refuses a document over {@link MAX_DOCUMENT_DEPTH} or
 * {@link MAX_DOCUMENT_TOKENS} before it is parsed: graphql-js's lexer reads
 * it token by token, without recursion, and stops at the first limit passed.
 * A syntax error is left for the parser to report.
 */
export function checkDocumentLimits(source: string): void {
  const lexer = new Lexer(new Source(source));
  let depth = 0;
  let tokens = 0;
  try {
    for (let token = lexer.advance(); token.kind !== TokenKind.EOF; token = lexer.advance()) {
      if (++tokens > MAX_DOCUMENT_TOKENS) throw tooLarge(`more than ${MAX_DOCUMENT_TOKENS} tokens`);
      if (OPENING.has(token.kind) && ++depth > MAX_DOCUMENT_DEPTH) throw tooLarge(`more than ${MAX_DOCUMENT_DEPTH} levels of nested brackets`);
      if (CLOSING.has(token.kind)) depth--;
    }
  } catch (error) {
    if (error instanceof BadUserInputError) throw error;
    // A syntax error: the parser reports it, in its own words.
  }
}

/** Parses a document within the limits; over them, or with a syntax error, throws a GraphQLError with its code. */
export function parseWithinLimits(source: string, options?: ParseOptions): DocumentNode {
  checkDocumentLimits(source);
  try {
    return parse(source, options);
  } catch (error) {
    if (!(error instanceof GraphQLError)) throw error;
    throw new GraphQLError(error.message, { source: error.source, positions: error.positions, extensions: { code: "GRAPHQL_PARSE_FAILED" } });
  }
}

function tooLarge(what: string): BadUserInputError {
  return new BadUserInputError(`The document has ${what}; send a smaller one.`, [], { httpStatus: 400 });
}

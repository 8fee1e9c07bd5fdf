import { DocumentNode, GraphQLError, Lexer, parse, ParseOptions, Source, TokenKind } from "graphql";
import type { OperationLimits } from "../config";
import { BoundedMap } from "./bounded-map";
import { AppError, BadUserInputError, QueryTooComplexError } from "./errors";

/**
 * Brackets (`{`, `[`, `(`) a document may nest. graphql-js parses, validates
 * and coerces nested selections and values recursively: a few thousand levels
 * exhaust the stack. Introspection nests about a dozen, JSON metadata written
 * inline up to 16 more.
 */
export const MAX_DOCUMENT_DEPTH = 64;

/** The limits on a document's text (see {@link OperationLimits}). */
export type DocumentLimits = Pick<OperationLimits, "maxTokens" | "maxDocumentBytes">;

const OPENING = new Set<TokenKind>([TokenKind.BRACE_L, TokenKind.BRACKET_L, TokenKind.PAREN_L]);
const CLOSING = new Set<TokenKind>([TokenKind.BRACE_R, TokenKind.BRACKET_R, TokenKind.PAREN_R]);

/**
 * Refuses a document over its limits before it is parsed: its size in bytes
 * first, then its tokens and {@link MAX_DOCUMENT_DEPTH}, which graphql-js's
 * lexer reads token by token, without recursion, stopping at the first limit
 * passed: a huge document costs what its first tokens do. A syntax error is
 * left for the parser to report.
 */
export function checkDocumentLimits(source: string, limits: DocumentLimits): void {
  const passed = passedDocuments.get(limits);
  if (passed?.has(source)) return;
  // A string's UTF-8 length is at most 3 bytes per UTF-16 unit: most documents need no count.
  if (source.length * 3 > limits.maxDocumentBytes && Buffer.byteLength(source) > limits.maxDocumentBytes) {
    throw new QueryTooComplexError(`The document is larger than ${limits.maxDocumentBytes} bytes; send a smaller one, with values in variables.`, {
      limit: limits.maxDocumentBytes,
    });
  }
  const lexer = new Lexer(new Source(source));
  let depth = 0;
  let tokens = 0;
  try {
    for (let token = lexer.advance(); token.kind !== TokenKind.EOF; token = lexer.advance()) {
      if (++tokens > limits.maxTokens) {
        throw new QueryTooComplexError(`The document has more than ${limits.maxTokens} tokens; send a smaller one, with values in variables.`, {
          limit: limits.maxTokens,
        });
      }
      if (OPENING.has(token.kind) && ++depth > MAX_DOCUMENT_DEPTH) throw tooDeep();
      if (CLOSING.has(token.kind)) depth--;
    }
  } catch (error) {
    if (error instanceof AppError) throw error;
    // A syntax error: the parser reports it, in its own words.
    return;
  }
  if (source.length > MAX_REMEMBERED_LENGTH) return;
  if (passed) passed.set(source, true);
  else passedDocuments.set(limits, new BoundedMap<string, true>(REMEMBERED_DOCUMENTS).set(source, true));
}

/**
 * Documents that passed the limits, by the limits they passed: clients send
 * the same few documents again and again, and lexing one costs more than
 * looking it up. At most {@link REMEMBERED_DOCUMENTS} of at most
 * {@link MAX_REMEMBERED_LENGTH} characters each (8 MiB) per set of limits.
 */
const passedDocuments = new WeakMap<DocumentLimits, BoundedMap<string, true>>();
const REMEMBERED_DOCUMENTS = 512;
const MAX_REMEMBERED_LENGTH = 8_192;

/** Parses a document within the limits; over them, or with a syntax error, throws a GraphQLError with its code. */
export function parseWithinLimits(source: string, limits: DocumentLimits, options?: ParseOptions): DocumentNode {
  checkDocumentLimits(source, limits);
  try {
    return parse(source, options);
  } catch (error) {
    if (!(error instanceof GraphQLError)) throw error;
    throw new GraphQLError(error.message, { source: error.source, positions: error.positions, extensions: { code: "GRAPHQL_PARSE_FAILED" } });
  }
}

function tooDeep(): BadUserInputError {
  return new BadUserInputError(`The document has more than ${MAX_DOCUMENT_DEPTH} levels of nested brackets; send a smaller one.`, [], { httpStatus: 400 });
}

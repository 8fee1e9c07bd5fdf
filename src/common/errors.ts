import { GraphQLError, GraphQLFormattedError } from "graphql";

/** The `extensions.code` values clients can rely on. */
export enum ErrorCode {
  UNAUTHENTICATED = "UNAUTHENTICATED",
  FORBIDDEN = "FORBIDDEN",
  BAD_USER_INPUT = "BAD_USER_INPUT",
  NOT_FOUND = "NOT_FOUND",
  CONFLICT = "CONFLICT",
  /** The operation asks for more than the limits allow (its cost, aliases, depth, directives or size); it was not run. */
  QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX",
  /** The caller's budget of cost points holds less than the operation costs (see src/limits/cost-budget.ts); retry after `Retry-After`. */
  RATE_LIMITED = "RATE_LIMITED",
  /** The service cannot do it now (its database is unreachable, or it is stopping): the same request may succeed later. */
  SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE",
  INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR",
}

/** HTTP status of a request that failed as a whole with this code. */
const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.UNAUTHENTICATED]: 401,
  [ErrorCode.QUERY_TOO_COMPLEX]: 400,
  [ErrorCode.RATE_LIMITED]: 429,
};

/** A domain error: a message meant for the client and a stable code. */
export abstract class AppError extends GraphQLError {
  abstract readonly code: ErrorCode;

  protected constructor(message: string, code: ErrorCode, extensions: Record<string, unknown> = {}) {
    const status = HTTP_STATUS[code];
    super(message, { extensions: { ...extensions, code, ...(status ? { http: { status } } : {}) } });
  }
}

export class AuthenticationError extends AppError {
  readonly code = ErrorCode.UNAUTHENTICATED;
  constructor(message = "A valid bearer token is required.") {
    super(message, ErrorCode.UNAUTHENTICATED);
    this.name = "AuthenticationError";
  }
}

export class ForbiddenError extends AppError {
  readonly code = ErrorCode.FORBIDDEN;
  constructor(message = "Your role may not do this.") {
    super(message, ErrorCode.FORBIDDEN);
    this.name = "ForbiddenError";
  }
}

/** One wrong input: where it is (e.g. `events.3.occurredAt`) and what is wrong with it. */
export interface InvalidInput {
  /** Position in a list argument, when the argument is a list. */
  index?: number;
  /** Dotted path of the field within the argument. */
  path: string;
  message: string;
}

export class BadUserInputError extends AppError {
  readonly code = ErrorCode.BAD_USER_INPUT;
  /**
   * `httpStatus` is for a request refused before it runs (its document, its
   * kind of operation): the HTTP response then carries that status. A
   * resolver's error leaves the status alone, as other fields may have data.
   */
  constructor(message: string, readonly invalid: InvalidInput[] = [], options: { httpStatus?: number } = {}) {
    super(message, ErrorCode.BAD_USER_INPUT, {
      ...(invalid.length > 0 ? { invalid } : {}),
      ...(options.httpStatus ? { http: { status: options.httpStatus } } : {}),
    });
    this.name = "BadUserInputError";
  }

  /** An error whose message lists the problems: "first must be from 1 to 200; search must be ...". */
  static listing(invalid: InvalidInput[]): BadUserInputError {
    return new BadUserInputError(`${invalid.map((problem) => `${problem.path} ${problem.message}`).join("; ")}.`, invalid);
  }
}

/** An operation over one of the limits (see src/limits/operation-cost.ts); `extensions` say what was counted and the limit. */
export class QueryTooComplexError extends AppError {
  readonly code = ErrorCode.QUERY_TOO_COMPLEX;
  constructor(message: string, counted: Record<string, number>) {
    super(message, ErrorCode.QUERY_TOO_COMPLEX, counted);
    this.name = "QueryTooComplexError";
  }
}

/** An operation the caller's budget cannot pay for now; it was not run. */
export class RateLimitedError extends AppError {
  readonly code = ErrorCode.RATE_LIMITED;
  constructor(
    cost: number,
    /** Seconds until the budget holds the operation's cost again (the `Retry-After`). */
    readonly retryAfterSeconds: number,
    throttleStatus: { maximumAvailable: number; currentlyAvailable: number; restoreRate: number },
  ) {
    super(
      `This operation costs ${cost} points and your budget holds ${throttleStatus.currentlyAvailable} (it refills at ${throttleStatus.restoreRate} a second); retry in ${retryAfterSeconds} s.`,
      ErrorCode.RATE_LIMITED,
      { cost, retryAfterSeconds, throttleStatus },
    );
    this.name = "RateLimitedError";
  }
}

export class NotFoundError extends AppError {
  readonly code = ErrorCode.NOT_FOUND;
  constructor(what: string) {
    super(`${what} was not found.`, ErrorCode.NOT_FOUND);
    this.name = "NotFoundError";
  }
}

export class ConflictError extends AppError {
  readonly code = ErrorCode.CONFLICT;
  constructor(message: string, extensions: Record<string, unknown> = {}) {
    super(message, ErrorCode.CONFLICT, extensions);
    this.name = "ConflictError";
  }
}

/** The `Retry-After` of a SERVICE_UNAVAILABLE answer (HTTP 503), in seconds. */
export const SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

export class ServiceUnavailableError extends AppError {
  readonly code = ErrorCode.SERVICE_UNAVAILABLE;
  constructor(message: string) {
    super(message, ErrorCode.SERVICE_UNAVAILABLE);
    this.name = "ServiceUnavailableError";
  }

  /** An operation not answered by its deadline (REQUEST_TIMEOUT_MS), over HTTP or WebSocket. */
  static pastDeadline(ms: number): ServiceUnavailableError {
    return new ServiceUnavailableError(`The operation took longer than ${ms / 1000} s and was stopped. Narrow it (a date range, a filter) or retry later.`);
  }
}

/**
 * Driver errors (mysql2's codes) that say the database could not be reached,
 * dropped the connection or had the statement cancelled (KILL QUERY, a server
 * shutting down), not that the statement was wrong: the same request may
 * succeed later.
 */
const DATABASE_UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
  "PROTOCOL_CONNECTION_LOST",
  "PROTOCOL_SEQUENCE_TIMEOUT",
  "ER_CON_COUNT_ERROR",
  "ER_SERVER_SHUTDOWN",
  "ER_QUERY_INTERRUPTED",
  "ER_CONNECTION_KILLED",
  // No pool connection came free within DB_POOL_WAIT_MS, or the database did not answer a statement
  // within DB_ANSWER_TIMEOUT_MS (src/database/pool-bounds.ts).
  "POOL_WAIT_TIMEOUT",
  "NO_ANSWER_TIMEOUT",
]);

/** Whether an error (a driver's, or TypeORM's QueryFailedError, which copies its code) means the database is unavailable. */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { code, fatal } = error as { code?: unknown; fatal?: unknown };
  // mysql2 marks an error fatal when it ends the connection, whatever its code.
  return fatal === true || (typeof code === "string" && DATABASE_UNAVAILABLE_CODES.has(code));
}

export const DATABASE_UNAVAILABLE_MESSAGE =
  "The database is unavailable. Retry later; a recording call retries with the same idempotency keys.";

/**
 * Codes that graphql-js and Apollo give to errors in the request itself
 * (syntax, validation, variable coercion). They carry no internals.
 */
const REQUEST_ERROR_CODES = new Set([
  "GRAPHQL_PARSE_FAILED",
  "GRAPHQL_VALIDATION_FAILED",
  "BAD_USER_INPUT",
  "BAD_REQUEST",
  "OPERATION_RESOLUTION_FAILURE",
  "PERSISTED_QUERY_NOT_FOUND",
  "PERSISTED_QUERY_NOT_SUPPORTED",
]);

/**
 * graphql-js reports a wrong argument value written inline in the query as a
 * validation error; it is bad input as much as the same value in a variable.
 */
const INPUT_VALUE_PROBLEM =
  /^(OneOf Input Object "|Expected value of type "|Field "[^"]+" of required type "[^"]+" was not provided\.|Field "[^"]+" is not defined by type "|Field "[^"]+" must be non-null\.)/;

const PUBLIC_CODES = new Set<string>([
  ...Object.values(ErrorCode).filter((code) => code !== ErrorCode.INTERNAL_SERVER_ERROR),
  ...REQUEST_ERROR_CODES,
]);

export interface MaskedError {
  formatted: GraphQLFormattedError;
  /** True when the error was unexpected: log it, the client only sees a masked message. */
  unexpected: boolean;
}

/**
 * The one mapping from any error to what a client sees. Domain errors and
 * request errors pass through; a database that cannot be reached is
 * SERVICE_UNAVAILABLE; anything else becomes INTERNAL_SERVER_ERROR with no
 * message, stack or SQL, unless `exposeInternals` (development).
 */
export function maskError(
  formatted: GraphQLFormattedError,
  original: unknown,
  options: { exposeInternals: boolean; requestId?: string },
): MaskedError {
  const cause = unwrap(original);
  const code = formatted.extensions?.code;
  const isDomain = cause instanceof AppError;
  // graphql-js and Apollo report request errors as GraphQLErrors; a plain Error is always unexpected.
  const isRequestError =
    !isDomain && typeof code === "string" && PUBLIC_CODES.has(code) && (cause instanceof GraphQLError || !(cause instanceof Error));
  if (isDomain || isRequestError) {
    // Keep the code and details; drop Apollo's stack trace and the http hint.
    const { stacktrace: _stack, http: _http, ...extensions } = formatted.extensions ?? {};
    if (code === "GRAPHQL_VALIDATION_FAILED" && INPUT_VALUE_PROBLEM.test(formatted.message)) {
      extensions.code = ErrorCode.BAD_USER_INPUT;
    }
    const message = isRequestError ? withoutEcho(formatted.message) : formatted.message;
    return { formatted: { ...formatted, message, extensions }, unexpected: false };
  }
  if (isDatabaseUnavailable(cause)) {
    const extensions: Record<string, unknown> = { code: ErrorCode.SERVICE_UNAVAILABLE };
    if (options.exposeInternals) extensions.detail = cause instanceof Error ? cause.message : String(cause);
    return {
      formatted: { message: DATABASE_UNAVAILABLE_MESSAGE, locations: formatted.locations, path: formatted.path, extensions },
      unexpected: false,
    };
  }
  const extensions: Record<string, unknown> = { code: ErrorCode.INTERNAL_SERVER_ERROR };
  if (options.requestId) extensions.requestId = options.requestId;
  if (options.exposeInternals) {
    extensions.detail = cause instanceof Error ? cause.message : String(cause);
    if (cause instanceof Error && cause.stack) extensions.stacktrace = cause.stack.split("\n");
  }
  return {
    formatted: { message: "Internal server error", locations: formatted.locations, path: formatted.path, extensions },
    unexpected: true,
  };
}

/** Characters of a quoted part of a request error's message kept (a token, a name, a value). */
const ECHO_CHARS = 60;
/** Characters of a request error's message kept in all. */
const MESSAGE_CHARS = 1_000;
/** A quoted part longer than {@link ECHO_CHARS}; its first characters are kept. */
const LONG_QUOTE = new RegExp(`"((?:[^"\\\\]|\\\\.){${ECHO_CHARS}})(?:[^"\\\\]|\\\\.)+"`, "g");

/**
 * A request error's message with what it quotes of the request cut short:
 * graphql-js quotes the offending token, name or variable value in full, and
 * a document or variable of megabytes would come back in the answer.
 */
function withoutEcho(message: string): string {
  const quoted = message.replace(LONG_QUOTE, '"$1…"');
  return quoted.length > MESSAGE_CHARS ? `${quoted.slice(0, MESSAGE_CHARS)}…` : quoted;
}

/**
 * A validation message without graphql-js's "Did you mean ...?": the
 * suggestions name the schema's types and fields, which a caller may not
 * learn while introspection is off (Apollo's hideSchemaDetailsFromClientErrors
 * does the same over HTTP).
 */
export function withoutSchemaSuggestions(message: string): string {
  return message.replace(/ ?Did you mean(.+?)\?$/, "");
}

/** The error a resolver threw, out of graphql-js's wrapper. */
export function unwrap(error: unknown): unknown {
  let current = error;
  while (current instanceof GraphQLError && current.originalError && current.originalError !== current) {
    current = current.originalError;
  }
  return current;
}

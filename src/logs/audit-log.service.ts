import { Principal, Role } from "../auth/principal";
import { BadUserInputError, ForbiddenError, InvalidInput, NotFoundError } from "../common/errors";
import {
  EventPageQuery,
  eventPageKeysStatement,
  EventParts,
  EVERY_EVENT_PART,
  findEventPage,
  KeptEventRows,
  PageStatement,
  searchTextScanStatement,
} from "../database/audit-event.repository";
import { conversationExists } from "../database/conversation.repository";
import { customerExists } from "../database/customer.repository";
import type { Queryable } from "../database/statements";
import { customersNamed, RememberedCustomerNames } from "../directory/customer-names";
import { DirectoryEntryCache } from "../directory/entry-cache";
import type { AuditEventRecord } from "../events/audit-event.record";
import type { AuditEventFilter, DateRange } from "./audit-log.inputs";
import { eventPageQuery } from "./audit-log.query";
import type { AuditEventConnection } from "./audit-log.types";
import type { CursorCodec, CursorPosition } from "./cursor";
import { conversationLogFilter, CustomerNameLookup, customerLogFilter, CustomersNamed, customersNamedIn, LogFilter, workspaceLogFilter } from "./log-filter";
import { findSearchPage, SEARCH_LIMITS } from "../search/search-page";
import { MIN_WORD_LENGTH, ParsedSearch, parseSearch } from "../search/search-terms";

/** Page size bounds. */
export const PAGE_SIZE = { default: 50, min: 1, max: 200 } as const;
/** Longest search text, in characters. @default 200 */
export const MAX_SEARCH_LENGTH = 200;

export interface LogArgs {
  range?: DateRange | null;
  first?: number | null;
  after?: string | null;
}

export interface WorkspaceLogArgs extends LogArgs {
  filter?: AuditEventFilter | null;
  search?: string | null;
}

export interface ScopedLogArgs extends LogArgs {
  userId?: string | null;
}

/** A page of a log, and the words of its search that could not narrow it. */
export interface LogPage extends AuditEventConnection {
  /** Words of the search left out, as typed (see {@link parseSearch}); empty without a search. */
  ignoredSearchWords: string[];
}

/** A request for one page of one log. */
export type LogRequest =
  | ({ log: "workspace" } & WorkspaceLogArgs)
  | ({ log: "customer"; customerId: string } & ScopedLogArgs)
  | ({ log: "conversation"; conversationId: string } & ScopedLogArgs);

/** The customer or conversation a log is of, in the caller's workspace. */
interface LogSubject {
  exists(database: Queryable, workspaceId: string, id: string): Promise<boolean>;
  noun: string;
  workspaceId: string;
  id: string;
}

/**
 * The cursors of a page's edges, made all at once when the client asks for
 * the first of them (one AES call signs them all, see CursorCodec), and never
 * when it asks for none.
 */
class PageCursors {
  private cursors: string[] | undefined;

  constructor(
    private readonly events: readonly AuditEventRecord[],
    private readonly encode: (positions: readonly CursorPosition[]) => string[],
  ) {}

  at(index: number): string {
    return (this.cursors ??= this.encode(this.events))[index];
  }
}

/**
 * An edge whose cursor comes from its page's {@link PageCursors}. A class,
 * not an object literal with a getter: V8 builds such literals far more
 * slowly than class instances, and a page builds one per event.
 */
class LazyCursorEdge {
  constructor(
    readonly node: AuditEventRecord,
    private readonly cursors: PageCursors,
    private readonly index: number,
  ) {}

  get cursor(): string {
    return this.cursors.at(this.index);
  }
}

/** A page's `pageInfo`, whose end cursor is the last edge's, made with the others. */
class LazyPageInfo {
  constructor(
    readonly hasNextPage: boolean,
    private readonly cursors: PageCursors,
    private readonly size: number,
  ) {}

  get endCursor(): string | null {
    return this.size === 0 ? null : this.cursors.at(this.size - 1);
  }
}

/** Reads the three logs: keyset pages, newest first, within the caller's workspace and role. */
export class AuditLogService {
  constructor(
    /** Where reads run: the read gate (src/database/read-gate.ts). */
    private readonly reads: Queryable,
    private readonly cursors: CursorCodec,
    /** The customers of the names pages were filtered by (see {@link RememberedCustomerNames}). */
    private readonly names = new RememberedCustomerNames(),
    /** The directory's entries pages show, kept between pages (see {@link DirectoryEntryCache}). */
    private readonly entries = new DirectoryEntryCache(),
    /** The events' rows pages showed (see {@link KeptEventRows}). */
    private readonly rows = new KeptEventRows(),
  ) {}

  /** One page of a log; `parts`: what its events must carry besides what every page reads (see {@link EventParts}). */
  async page(principal: Principal, request: LogRequest, parts: Readonly<EventParts> = EVERY_EVENT_PART): Promise<LogPage> {
    let plan = await this.plan(principal, request, true);
    const { search, logKey, subject, ignoredSearchWords } = plan;
    let read = search ? await findSearchPage(this.reads, { ...plan.query, parts }, search) : await findEventPage(this.reads, { ...plan.query, parts }, this.entries, this.rows);
    if (plan.query.premise && read.premiseHeld !== true) {
      // The name's recalled customers no longer hold, or the page read no row to tell: ask, and read again if they differ.
      const recalled = plan.named!.ids;
      plan = await this.plan(principal, request, false);
      const asked = plan.named!.ids;
      if (asked.size !== recalled.size || [...asked].some((id) => !recalled.has(id))) read = await findEventPage(this.reads, { ...plan.query, parts }, this.entries, this.rows);
    }
    const { events, hasMore } = read;
    // A page with events proves its customer or conversation exists in the workspace; only an empty one needs asking.
    if (events.length === 0 && subject) await this.requireExisting(subject);
    const encode = this.cursors.encoderFor(principal.workspaceId, logKey);
    const cursors = new PageCursors(events, encode);
    const edges = events.map((node, index) => new LazyCursorEdge(node, cursors, index));
    return { edges, pageInfo: new LazyPageInfo(hasMore, cursors, events.length), ignoredSearchWords };
  }

  /**
   * The statement a page sends, after every check and lookup (for a search,
   * the one that reads the log's newest events first); null when the page is
   * empty without asking (a customer filter naming no customer).
   */
  async pageQuery(principal: Principal, request: LogRequest): Promise<(Omit<PagePlan, "query"> & { query: PageStatement }) | null> {
    const plan = await this.plan(principal, request, true);
    const statement = plan.search ? searchTextScanStatement(plan.query, SEARCH_LIMITS.sampleEvents) : eventPageKeysStatement(plan.query);
    return statement ? { ...plan, query: statement } : null;
  }

  /**
   * What a page asks, after every check and lookup. `subject` is the
   * customer or conversation the log is of, whose existence an empty page
   * must check. With `recall`, a customer name filtered on without a search
   * takes the customers it covered when last asked, which the page's
   * statement then tests; otherwise the name is asked now, and remembered.
   */
  private async plan(principal: Principal, request: LogRequest, recall: boolean): Promise<PagePlan> {
    this.authorize(principal, request);
    const logKey = logKeyOf(request);
    const invalid: InvalidInput[] = [];
    const pageSize = checkFirst(request.first, invalid);
    const { from, to } = checkRange(request.range, invalid);
    const search = request.log === "workspace" ? checkSearch(request.search, invalid) : null;
    let after: CursorPosition | null = null;
    if (request.after !== undefined && request.after !== null) {
      try {
        after = this.cursors.positionIn(request.after, principal.workspaceId, logKey);
      } catch (error) {
        if (!(error instanceof BadUserInputError)) throw error;
        invalid.push(...error.invalid);
      }
    }
    if (invalid.length > 0) throw BadUserInputError.listing(invalid);

    const workspaceId = principal.workspaceId;
    const ignoredSearchWords = search?.ignored ?? [];
    const bounds = { from, to, search: search?.words ?? null };
    let filter: LogFilter;
    let subject: LogSubject | null = null;
    if (request.log === "customer") {
      subject = { exists: customerExists, noun: "Customer", workspaceId, id: request.customerId };
      filter = customerLogFilter(request.customerId, request.userId, bounds);
    } else if (request.log === "conversation") {
      subject = { exists: conversationExists, noun: "Conversation", workspaceId, id: request.conversationId };
      filter = conversationLogFilter(request.conversationId, request.userId, bounds);
    } else {
      // A search reads in steps of its own, which do not carry the test: it asks.
      filter = await workspaceLogFilter(request.filter, this.customerNameLookup(workspaceId, recall && bounds.search === null), bounds);
    }
    const named = customersNamedIn(filter);
    return { query: eventPageQuery(workspaceId, filter, after, pageSize), named, search: filter.search, logKey, subject, ignoredSearchWords };
  }

  /** Asks which customers a name covers and remembers the answer; with `recall`, takes the remembered answer where there is one. */
  private customerNameLookup(workspaceId: string, recall: boolean): CustomerNameLookup {
    return async (name) => {
      const recalled = recall ? this.names.recall(workspaceId, name) : undefined;
      if (recalled) return { ids: new Set(recalled), recalled: true };
      const ids = await customersNamed(this.reads, workspaceId, name);
      this.names.remember(workspaceId, name, ids);
      return { ids, recalled: false };
    };
  }

  /** The workspace log is for admins; the customer and conversation logs for admins and agents. */
  private authorize(principal: Principal, request: LogRequest): void {
    const allowed = request.log === "workspace" ? [Role.ADMIN] : [Role.ADMIN, Role.AGENT];
    if (!allowed.includes(principal.role)) throw new ForbiddenError();
  }

  /** An unknown id and another workspace's id are the same NOT_FOUND. */
  private async requireExisting({ exists, noun, workspaceId, id }: LogSubject): Promise<void> {
    if (!(await exists(this.reads, workspaceId, id))) throw new NotFoundError(`${noun} ${JSON.stringify(id)}`);
  }
}

interface PagePlan {
  query: EventPageQuery;
  /** The filter's customer name and the customers it stands for; null without one. */
  named: CustomersNamed | null;
  /** The search's words; null without a search. */
  search: readonly string[] | null;
  logKey: string;
  subject: LogSubject | null;
  ignoredSearchWords: string[];
}

function logKeyOf(request: LogRequest): string {
  switch (request.log) {
    case "workspace":
      return "workspace";
    case "customer":
      return `customer:${request.customerId}`;
    case "conversation":
      return `conversation:${request.conversationId}`;
  }
}

function checkFirst(first: number | null | undefined, invalid: InvalidInput[]): number {
  if (first === undefined || first === null) return PAGE_SIZE.default;
  if (!Number.isInteger(first) || first < PAGE_SIZE.min || first > PAGE_SIZE.max) {
    invalid.push({ path: "first", message: `must be from ${PAGE_SIZE.min} to ${PAGE_SIZE.max}` });
  }
  return first;
}

function checkRange(range: DateRange | null | undefined, invalid: InvalidInput[]): { from: Date | null; to: Date | null } {
  const from = range?.from ?? null;
  const to = range?.to ?? null;
  if (from && to && from.getTime() > to.getTime()) invalid.push({ path: "range", message: "from must not be after to" });
  return { from, to };
}

/**
 * The search as the index runs it; null without one. A search with no word
 * the index can find is refused: run without any, it would show every event.
 */
function checkSearch(search: string | null | undefined, invalid: InvalidInput[]): ParsedSearch | null {
  if (search === undefined || search === null || search.trim() === "") return null;
  if (search.length > MAX_SEARCH_LENGTH) {
    invalid.push({ path: "search", message: `must be at most ${MAX_SEARCH_LENGTH} characters` });
    return null;
  }
  const parsed = parseSearch(search);
  if (parsed.words.length === 0) {
    invalid.push({
      path: "search",
      message: `must hold a word the index can find: ${MIN_WORD_LENGTH} or more letters or digits, and not a word as common as "the"`,
    });
  }
  return parsed;
}

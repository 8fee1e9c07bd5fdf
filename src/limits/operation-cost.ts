import {
  DocumentNode,
  FieldNode,
  FragmentDefinitionNode,
  getNamedType,
  getNullableType,
  GraphQLCompositeType,
  GraphQLField,
  GraphQLSchema,
  isCompositeType,
  isListType,
  isObjectType,
  isInterfaceType,
  Kind,
  OperationDefinitionNode,
  SelectionSetNode,
  ValueNode,
  VariableDefinitionNode,
} from "graphql";
import { QueryTooComplexError } from "../common/errors";
import type { OperationLimits } from "../config";
import { PICKER_SIZE } from "../directory/directory.service";
import { LIMITS as RECORDING_LIMITS } from "../events/audit-event.validation";
import { PAGE_SIZE } from "../logs/audit-log.service";

/**
 * How many items a list field returns at most, for the fields whose count
 * the caller chooses: a `first` argument (its default when left out, its
 * maximum when over it, as the resolver refuses that anyway with its own
 * message), or the length of a list argument. The count applies to the
 * field itself when it is a list, else to the lists directly in its selection
 * (a connection's `edges`, a payload's `events`). `perItem` is what each item
 * costs besides what is selected of it (a recorded event's write).
 */
const SIZED_FIELDS: Readonly<Record<string, { first: { default: number; max: number } } | { listArgument: string; max: number; perItem: number }>> = {
  "Query.workspaceAuditLog": { first: PAGE_SIZE },
  "Query.customerAuditLog": { first: PAGE_SIZE },
  "Query.conversationAuditLog": { first: PAGE_SIZE },
  "Query.customers": { first: PICKER_SIZE },
  "Query.users": { first: PICKER_SIZE },
  "Mutation.recordAuditEvents": { listArgument: "events", max: RECORDING_LIMITS.maxEvents, perItem: 1 },
};

/** The fields whose item count the caller chooses (tests check that every `first` argument of the schema is among them). */
export const SIZED_FIELD_COORDINATES: readonly string[] = Object.keys(SIZED_FIELDS);

/** What a leaf costs: JSON values (`metadata`, a change's `before` and `after`) are free-form and can be large. */
const JSON_LEAF_COST = 2;

/** What the checks found of an operation that passed them. */
export interface OperationCost {
  /** Its cost, in points (see {@link operationCost}). */
  cost: number;
  /** What kind of operation it is (none: the document names no such operation, which execution reports). */
  kind: OperationDefinitionNode["operation"] | null;
  /** The operation's name in the document, if it has one. */
  name: string | null;
}

/**
 * Checks an operation, parsed and validated, against the limits; throws
 * {@link QueryTooComplexError} (extensions: what was counted, and the limit)
 * on the first one it passes.
 *
 * The cost is an upper bound of the work and the response, in points:
 * - an object field costs 1, plus what is selected of it;
 * - a list of objects costs, per item it may hold, 1 plus what is selected
 *   of each item: a page's `edges` as many as `first` says (default 50),
 *   `changes` once (an event holds a few);
 * - a JSON leaf (`metadata`, `before`, `after`) costs 2, other leaves 0;
 * - a recorded event costs 1, besides what the mutation selects of it;
 * - fragments on several types all count, as if an event were each of them;
 * - introspection (`__schema`, `__type`) costs nothing, and is off in production.
 *
 * A page of 50 events as the UI shows them costs about 650; 15 aliases of
 * `workspaceAuditLog(first: 200) { edges { node { metadata } } }` cost 12,015.
 */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Readonly<Record<string, unknown>> | null | undefined,
  limits: OperationLimits,
): OperationCost {
  const sent = variables ?? {};
  let byDocument = counted.get(limits);
  if (!byDocument) counted.set(limits, (byDocument = new WeakMap()));
  let operations = byDocument.get(document);
  if (!operations) byDocument.set(document, (operations = new Map()));
  const known = operations.get(operationName ?? "");
  const cached = known && known.costs.get(costKey(known.reads, sent));
  if (cached) return cached;

  const operation = document.definitions.find(
    (definition): definition is OperationDefinitionNode =>
      definition.kind === Kind.OPERATION_DEFINITION && (!operationName || definition.name?.value === operationName),
  );
  const root = operation && schema.getRootType(operation.operation);
  if (!operation || !root) return { cost: 0, kind: null, name: null };
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  const values = new ReadVariables(operation.variableDefinitions ?? [], sent);
  const counter = new Counter(schema, fragments, values, limits);
  counter.directives += operation.directives?.length ?? 0;
  const cost = counter.selectionCost(operation.selectionSet, root, 1, undefined);
  counter.check("directives", counter.directives, limits.maxDirectives, "directives");
  if (cost > limits.maxCost) {
    throw new QueryTooComplexError(
      `The operation costs ${cost} points, over the limit of ${limits.maxCost}. Ask for fewer events per page (first), fewer aliases or fewer fields.`,
      { cost, limit: limits.maxCost },
    );
  }
  const result: OperationCost = { cost, kind: operation.operation, name: operation.name?.value ?? null };
  // The same variables are read whatever their values: what the first count read keys every later one.
  const entry = known ?? { reads: values.reads(), costs: new Map<string, OperationCost>() };
  if (entry.costs.size < MAX_COSTS_PER_OPERATION) entry.costs.set(costKey(entry.reads, sent), result);
  operations.set(operationName ?? "", entry);
  return result;
}

/**
 * Operations counted before, by limits and document (Apollo hands over the
 * same parsed document for the same text): each with the variables its
 * count read, with their defaults, and its cost by what those held. A log
 * screen sends the same few documents again and again.
 */
const counted = new WeakMap<OperationLimits, WeakMap<DocumentNode, Map<string, { reads: [name: string, fallback: unknown][]; costs: Map<string, OperationCost> }>>>();
/** Costs kept per operation: one per page size or batch length a client uses. */
const MAX_COSTS_PER_OPERATION = 64;

/** The key of a count among an operation's: what each variable it read holds, as sent or by default. */
function costKey(reads: readonly [name: string, fallback: unknown][], sent: Readonly<Record<string, unknown>>): string {
  return reads.map(([name, fallback]) => sizeKey(sent[name] !== undefined ? sent[name] : fallback)).join(",");
}

/** What of a variable's value a count depends on: a number (a page size), or a list's length (a batch). */
function sizeKey(value: unknown): string {
  return typeof value === "number" ? String(value) : Array.isArray(value) ? `#${value.length}` : "-";
}

/** The operation's variables, as {@link variableValues} gives them, noting which ones the count reads. */
class ReadVariables {
  private readonly values: Map<string, unknown>;
  private readonly defaults: Map<string, unknown>;
  private readonly read = new Set<string>();

  constructor(definitions: readonly VariableDefinitionNode[], sent: Readonly<Record<string, unknown>>) {
    this.values = variableValues(definitions, sent);
    this.defaults = variableValues(definitions, {});
  }

  get(name: string): unknown {
    this.read.add(name);
    return this.values.get(name);
  }

  /** The variables read so far, each with its default. */
  reads(): [name: string, fallback: unknown][] {
    return [...this.read].map((name) => [name, this.defaults.get(name)]);
  }
}

/** The values the operation's variables have: those sent, else their defaults. */
function variableValues(definitions: readonly VariableDefinitionNode[], sent: Readonly<Record<string, unknown>>): Map<string, unknown> {
  const values = new Map<string, unknown>();
  for (const definition of definitions) {
    const name = definition.variable.name.value;
    if (sent[name] !== undefined) values.set(name, sent[name]);
    else if (definition.defaultValue) values.set(name, literalValue(definition.defaultValue, new Map()));
  }
  return values;
}

/** Where a count looks a variable's value up. */
interface VariableLookup {
  get(name: string): unknown;
}

/** A literal as a JS value, as far as counting needs it: numbers, lists and variables. */
function literalValue(node: ValueNode, variables: VariableLookup): unknown {
  switch (node.kind) {
    case Kind.INT:
      return Number(node.value);
    case Kind.LIST:
      return node.values;
    case Kind.VARIABLE:
      return variables.get(node.name.value);
    default:
      return undefined;
  }
}

class Counter {
  directives = 0;
  private aliases = 0;

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly fragments: ReadonlyMap<string, FragmentDefinitionNode>,
    private readonly variables: VariableLookup,
    private readonly limits: OperationLimits,
  ) {}

  /**
   * What a selection set costs on `type`, at `depth`; `listSize` is the item
   * count its list fields take from the field above (a connection's `first`).
   */
  selectionCost(selectionSet: SelectionSetNode, type: GraphQLCompositeType, depth: number, listSize: number | undefined): number {
    let cost = 0;
    for (const selection of selectionSet.selections) {
      this.directives += selection.directives?.length ?? 0;
      if (selection.kind === Kind.FIELD) {
        cost += this.fieldCost(selection, type, depth, listSize);
        continue;
      }
      const fragment = selection.kind === Kind.INLINE_FRAGMENT ? selection : this.fragments.get(selection.name.value);
      if (!fragment) continue;
      if (selection.kind === Kind.FRAGMENT_SPREAD) this.directives += fragment.directives?.length ?? 0;
      const condition = fragment.typeCondition ? this.schema.getType(fragment.typeCondition.name.value) : type;
      if (condition && isCompositeType(condition)) cost += this.selectionCost(fragment.selectionSet, condition, depth, listSize);
    }
    return cost;
  }

  private fieldCost(node: FieldNode, parent: GraphQLCompositeType, depth: number, listSize: number | undefined): number {
    const name = node.name.value;
    // Introspection and __typename: metadata of the schema, not of the log.
    if (name.startsWith("__")) return 0;
    if (node.alias) this.check("aliases", ++this.aliases, this.limits.maxAliases, "aliased fields");
    this.check("depth", depth, this.limits.maxDepth, "levels of nested fields");
    const field = isObjectType(parent) || isInterfaceType(parent) ? (parent.getFields()[name] as GraphQLField<unknown, unknown> | undefined) : undefined;
    if (!field) return 0;
    const type = getNullableType(field.type);
    const named = getNamedType(field.type);
    if (!isCompositeType(named) || !node.selectionSet) return named.name === "JSON" ? JSON_LEAF_COST : 0;

    const sized = this.sizeOf(node, `${parent.name}.${name}`);
    const isList = isListType(type);
    // A list takes its own count, or the one its parent field passed down; a list nobody sized is counted once.
    const items = isList ? (sized?.items ?? listSize ?? 1) : 1;
    const below = this.selectionCost(node.selectionSet, named, depth + 1, isList ? undefined : sized?.items);
    return (sized?.perItem ?? 0) * (sized?.items ?? 0) + items * (1 + below);
  }

  /** The item count the caller chose for the field, if it is one of {@link SIZED_FIELDS}. */
  private sizeOf(node: FieldNode, coordinate: string): { items: number; perItem: number } | undefined {
    const sized = SIZED_FIELDS[coordinate];
    if (!sized) return undefined;
    const argument = (argumentName: string) => {
      const given = node.arguments?.find((candidate) => candidate.name.value === argumentName);
      return given ? literalValue(given.value, this.variables) : undefined;
    };
    if ("first" in sized) {
      const first = argument("first");
      const items = typeof first === "number" && Number.isInteger(first) && first >= 1 ? Math.min(first, sized.first.max) : sized.first.default;
      return { items, perItem: 0 };
    }
    const list = argument(sized.listArgument);
    return { items: Array.isArray(list) ? Math.min(list.length, sized.max) : 1, perItem: sized.perItem };
  }

  check(what: string, count: number, limit: number, noun: string): void {
    if (count > limit) throw new QueryTooComplexError(`The operation has more than ${limit} ${noun}.`, { [what]: count, limit });
  }
}

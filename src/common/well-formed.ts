import { MapperKind, mapSchema } from "@graphql-tools/utils";
import type { GraphQLFieldResolver, GraphQLSchema } from "graphql";
import { MAX_DOCUMENT_DEPTH } from "./document-limits";
import { BadUserInputError, InvalidInput } from "./errors";
import { plainArgumentsOf } from "./plain-argument";

/**
 * Half of a surrogate pair, which JSON's `\ud83d` escape puts into a
 * JavaScript string. It is not Unicode: MariaDB and MySQL store U+FFFD in its
 * place in a text column (so what is stored would differ from what was
 * acknowledged) and refuse it in a JSON column.
 */
const LONE_SURROGATE = /\p{Cs}/u;

/** What a problem says of a string that is not well-formed. */
export const NOT_WELL_FORMED = "must be well-formed Unicode (it holds half of a surrogate pair)";

/** Whether a string is well-formed Unicode: no surrogate without its pair. */
export function isWellFormed(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

/**
 * The problems of a plain value (as JSON or GraphQL's input coercion gives
 * it): each string, and each object holding a key, that is not well-formed
 * Unicode, by dotted path from `path`; or, when arrays and objects nest more
 * than `maxDepth` levels, that one problem at `path`. The walk stops at that
 * depth, so a value nested however deep is safe to inspect.
 */
export function valueProblems(value: unknown, path: string, maxDepth: number): InvalidInput[] {
  const problems: InvalidInput[] = [];
  // The path is written out only for a problem: most values have none.
  const keys: (string | number)[] = [];
  const at = () => [path, ...keys].join(".");
  /** False when the value nests too deep. */
  const visit = (item: unknown, depth: number): boolean => {
    if (typeof item === "string") {
      if (!isWellFormed(item)) problems.push({ path: at(), message: NOT_WELL_FORMED });
      return true;
    }
    if (typeof item !== "object" || item === null || item instanceof Date) return true;
    if (depth >= maxDepth) return false;
    if (Array.isArray(item)) {
      for (let index = 0; index < item.length; index++) {
        keys.push(index);
        const within = visit(item[index], depth + 1);
        keys.pop();
        if (!within) return false;
      }
      return true;
    }
    let keyReported = false;
    for (const key in item) {
      if (!Object.hasOwn(item, key)) continue;
      if (!keyReported && !isWellFormed(key)) {
        keyReported = true;
        problems.push({ path: at(), message: `has a key that ${NOT_WELL_FORMED}` });
      }
      keys.push(key);
      const within = visit((item as Record<string, unknown>)[key], depth + 1);
      keys.pop();
      if (!within) return false;
    }
    return true;
  };
  return visit(value, 0) ? problems : [{ path, message: `must not nest arrays and objects more than ${maxDepth} levels deep` }];
}

/**
 * Refuses, before its resolver runs, a field whose arguments hold a string
 * that is not well-formed Unicode: ids, search text and names in filters all
 * reach the database, which would compare a changed string. BAD_USER_INPUT
 * names each argument path. Plain arguments ({@link PlainArg}) are left to
 * the service that takes them, which validates them whole (the events of
 * `recordAuditEvents`, by event index and path). A subscription field's
 * arguments are checked when it subscribes. Arguments nest no deeper than a
 * document may.
 */
export function applyWellFormedArguments(schema: GraphQLSchema): GraphQLSchema {
  return mapSchema(schema, {
    [MapperKind.OBJECT_FIELD]: (field) => {
      const plain = new Set(plainArgumentsOf(field));
      const names = Object.keys(field.args ?? {}).filter((name) => !plain.has(name));
      if (names.length === 0) return field;
      const checked = (inner: GraphQLFieldResolver<unknown, unknown>): GraphQLFieldResolver<unknown, unknown> => (source, args, context, info) => {
        const problems = names.flatMap((name) => valueProblems(args[name], name, MAX_DOCUMENT_DEPTH));
        if (problems.length > 0) throw BadUserInputError.listing(problems);
        return inner(source, args, context, info);
      };
      if (field.subscribe) return { ...field, subscribe: checked(field.subscribe) };
      return field.resolve ? { ...field, resolve: checked(field.resolve) } : field;
    },
  });
}

import { MapperKind, mapSchema } from "@graphql-tools/utils";
import type { GraphQLFieldResolver, GraphQLSchema } from "graphql";
import { ArgOptions, createParameterDecorator, Extensions } from "type-graphql";

/**
 * Arguments that reach their resolver as the executor coerced them (graphql-js,
 * or graphql-jit once the document is compiled).
 *
 * type-graphql copies every input object of an `@Arg` into an instance of
 * its class before the resolver runs, walking its field metadata again for
 * each object: for a batch of `recordAuditEvents`, that is one copy per
 * event and per nested input, and the recorder validates and normalizes the
 * plain values anyway. type-graphql's own validation (off in this schema)
 * sees nothing.
 * Such an argument is declared with {@link PlainArg};
 * {@link applyPlainArguments} hides its value from type-graphql's copy and
 * hands it to the resolver as it came.
 *
 * It works around type-graphql, so it stays only because part 1 of the bench
 * shows it pays on large batches (`docs/performance.md`, "Figures behind
 * choices in the code").
 */

/** The field extension naming a field's plain arguments. */
const PLAIN_ARGUMENTS = "plainArguments";
/** Where the wrapped resolver puts the plain values inside the args type-graphql sees. */
const PLAIN_VALUES = Symbol("plain argument values");

/** What `@Arg` takes as its type: `() => [SomeInput]` and the like. */
type ArgTypeFunc = NonNullable<NonNullable<Parameters<typeof createParameterDecorator>[1]>["arg"]>["typeFunc"];

type ArgsWithPlainValues = Record<string, unknown> & { [PLAIN_VALUES]?: Record<string, unknown> };

/** The plain arguments of each resolver method: one list, which the method's field extension holds and each declaration adds to. */
const declared = new WeakMap<object, Map<string, string[]>>();

/**
 * Declares an argument as `@Arg` does (same name, type and options in the
 * schema), whose value the resolver receives as plain objects rather than
 * instances of the input classes. Only the schema built through
 * {@link applyPlainArguments} hands the value on.
 */
export function PlainArg(name: string, returnTypeFunc: ArgTypeFunc, options?: ArgOptions) {
  const parameter = createParameterDecorator(({ args }) => (args as ArgsWithPlainValues)[PLAIN_VALUES]?.[name], {
    arg: { name, typeFunc: returnTypeFunc, options },
  });
  return (prototype: object, method: string, parameterIndex: number): void => {
    parameter(prototype, method, parameterIndex);
    const methods = declared.get(prototype) ?? new Map<string, string[]>();
    declared.set(prototype, methods);
    let names = methods.get(method);
    if (!names) {
      methods.set(method, (names = []));
      Extensions({ [PLAIN_ARGUMENTS]: names })(prototype, method, Object.getOwnPropertyDescriptor(prototype, method)!);
    }
    names.push(name);
  };
}

/** The names of a field's plain arguments (declared with {@link PlainArg}). */
export function plainArgumentsOf(field: { extensions?: Readonly<Record<string, unknown>> | null }): readonly string[] {
  return (field.extensions?.[PLAIN_ARGUMENTS] as string[] | undefined) ?? [];
}

/**
 * Wraps the resolver of every field with plain arguments: their values move
 * out of sight of type-graphql's copy (which then has nothing to copy) to
 * where {@link PlainArg} reads them.
 */
export function applyPlainArguments(schema: GraphQLSchema): GraphQLSchema {
  return mapSchema(schema, {
    [MapperKind.OBJECT_FIELD]: (field) => {
      const names = plainArgumentsOf(field);
      if (names.length === 0 || !field.resolve) return field;
      const resolve: GraphQLFieldResolver<unknown, unknown> = field.resolve;
      return {
        ...field,
        resolve: (source, args: Record<string, unknown>, context, info) => {
          const hidden: ArgsWithPlainValues = { ...args, [PLAIN_VALUES]: {} };
          for (const name of names) {
            hidden[PLAIN_VALUES]![name] = args[name];
            delete hidden[name];
          }
          return resolve(source, hidden, context, info);
        },
      };
    },
  });
}

import { DocumentNode, FragmentDefinitionNode, GraphQLError, Kind, parse, SelectionSetNode } from "graphql";

/**
 * True when every operation of the document selects only introspection
 * fields (`__schema`, `__type`, `__typename`) at its root: the one thing a
 * caller without a token may ask, while introspection is on. The text must
 * have passed `checkDocumentLimits` (common/document-limits.ts) already.
 */
export function isIntrospectionOnly(source: unknown): boolean {
  if (typeof source !== "string" || source.trim() === "") return false;
  let document: DocumentNode;
  try {
    document = parse(source, { noLocation: true });
  } catch (error) {
    if (error instanceof GraphQLError) return false;
    throw error;
  }
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const operations = document.definitions.filter((definition) => definition.kind === Kind.OPERATION_DEFINITION);
  return (
    operations.length > 0 &&
    operations.every((operation) => operation.operation === "query" && onlyMetaFields(operation.selectionSet, fragments, new Set()))
  );
}

function onlyMetaFields(
  selectionSet: SelectionSetNode,
  fragments: Map<string, FragmentDefinitionNode>,
  seen: Set<string>,
): boolean {
  return selectionSet.selections.every((selection) => {
    switch (selection.kind) {
      case Kind.FIELD:
        return selection.name.value.startsWith("__");
      case Kind.INLINE_FRAGMENT:
        return onlyMetaFields(selection.selectionSet, fragments, seen);
      case Kind.FRAGMENT_SPREAD: {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (!fragment || seen.has(name)) return false;
        return onlyMetaFields(fragment.selectionSet, fragments, new Set([...seen, name]));
      }
    }
  });
}

import { Kind, type FieldNode, type FragmentDefinitionNode, type SelectionSetNode } from "graphql";
import type { EventParts } from "../database/audit-event.repository";

/** Computed once per field of a parsed document: a client's document is parsed once and its operation runs many times. */
const partsOfField = new WeakMap<FieldNode, Readonly<EventParts>>();

/**
 * The parts a log's page must read for what its field selects (see
 * `EventParts`). Every field name met in the selection at any depth counts,
 * through fragments and whatever type, alias or directive it stands under,
 * so that a part is left unread only when no field of the operation could
 * show it.
 */
export function selectedEventParts(info: { fieldNodes: readonly FieldNode[]; fragments: Record<string, FragmentDefinitionNode> }): Readonly<EventParts> {
  const [first] = info.fieldNodes;
  const known = info.fieldNodes.length === 1 ? partsOfField.get(first) : undefined;
  if (known) return known;
  const names = new Set<string>();
  const visited = new Set<string>();
  const collect = (selectionSet: SelectionSetNode | undefined): void => {
    for (const selection of selectionSet?.selections ?? []) {
      if (selection.kind === Kind.FIELD) {
        names.add(selection.name.value);
        collect(selection.selectionSet);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        collect(selection.selectionSet);
      } else if (!visited.has(selection.name.value)) {
        visited.add(selection.name.value);
        collect(info.fragments[selection.name.value]?.selectionSet);
      }
    }
  };
  for (const field of info.fieldNodes) collect(field.selectionSet);
  // Each part by the name of the field that shows it, wherever it stands.
  const parts: EventParts = { recordedAt: names.has("recordedAt"), metadata: names.has("metadata"), subjectUser: names.has("subjectUser"), emails: names.has("email") };
  if (info.fieldNodes.length === 1) partsOfField.set(first, parts);
  return parts;
}

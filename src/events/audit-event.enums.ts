import { registerEnumType } from "type-graphql";

export enum AuditEventType {
  AUTHORIZATION = "AUTHORIZATION",
  BILLING = "BILLING",
  CONVERSATION = "CONVERSATION",
  CUSTOMER = "CUSTOMER",
  SETTINGS = "SETTINGS",
  WORK_SESSION = "WORK_SESSION",
}

export enum SettingsSection {
  SEARCHES = "SEARCHES",
  SHORTCUTS = "SHORTCUTS",
  BUSINESS_RULES = "BUSINESS_RULES",
  SUPPORT_ACCESS = "SUPPORT_ACCESS",
}

export enum ActorKind {
  USER = "USER",
  AUTOMATION = "AUTOMATION",
  SYSTEM = "SYSTEM",
  API_CLIENT = "API_CLIENT",
}

registerEnumType(AuditEventType, { name: "AuditEventType", description: "The event types of the audit log's filter menu." });

registerEnumType(SettingsSection, {
  name: "SettingsSection",
  description: "Platform areas an admin can filter settings changes on.",
  valuesConfig: { SUPPORT_ACCESS: { description: "Access granted to the platform vendor's support staff." } },
});

registerEnumType(ActorKind, {
  name: "ActorKind",
  description: "Who performed an action.",
  valuesConfig: {
    USER: { description: "A person signed in to the workspace." },
    AUTOMATION: { description: "A system automation: a workflow, business rule or queue router." },
    SYSTEM: { description: "The platform itself." },
    API_CLIENT: { description: "An API client acting with a key." },
  },
});

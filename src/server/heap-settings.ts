import { setFlagsFromString } from "node:v8";

/**
 * V8 settings for a process that serves a log's pages while it records:
 * main.ts applies them before anything else runs.
 *
 * Allocation-site pretenuring is off. Once most objects of an allocation
 * site have outlived young collections, V8 allocates that site's objects in
 * its old generation from then on. A recording call's objects live a while (a
 * batch waits its turn in the record queue), and the request path it shares
 * with the pages (the HTTP and Apollo pipeline, the context) then kept
 * allocating each page's request objects in the old generation. There, until
 * the next full collection, each held its page's young objects through every
 * young collection: after a bulk load, every page's objects were promoted and
 * a page cost markedly more CPU than in a process that had recorded nothing
 * (figures in docs/performance.md). V8 reads this flag when it decides, so
 * setting it at run time takes effect (tests/startup.test.ts checks the
 * service's process).
 */
export function applyHeapSettings(): void {
  setFlagsFromString("--no-allocation-site-pretenuring");
}

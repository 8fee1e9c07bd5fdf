import { isDatabaseUnavailable, ServiceUnavailableError } from "../common/errors";

/** Events one transaction may gather from calls waiting on the same workspace. */
const MAX_ROUND_EVENTS = 2_000;
/**
 * Transactions of one workspace this process runs at once. The second
 * prepares (directory upserts and reads) while the first commits, unless its
 * upserts touch directory rows the first holds (a busy user's, say): then it
 * waits for that commit. Their seq reservations take turns on the
 * workspace's row.
 */
const ROUNDS_IN_FLIGHT = 2;

/** What the queue needs of a call's events: each one's idempotency key, once per call. */
export interface KeyedEvent {
  event: { idempotencyKey: string };
}

/** Stores the events of one round of a workspace, in one transaction, and says what it stored. */
export type StoreRound<Item, Outcome> = (workspaceId: string, items: Item[]) => Promise<Outcome>;

/** A call waiting for its workspace's next round. */
interface QueuedCall<Item, Outcome> {
  items: Item[];
  resolve(outcome: Outcome): void;
  reject(error: unknown): void;
}

/** A workspace's waiting calls, and how many of its rounds run. */
interface WorkspaceQueue<Item, Outcome> {
  calls: QueuedCall<Item, Outcome>[];
  rounds: number;
}

/**
 * Group commit. A workspace's writers take turns on its seq lock anyway, so
 * calls of one workspace that arrive while {@link ROUNDS_IN_FLIGHT} of its
 * rounds run wait here and are then stored together, in one round: a burst
 * of single-event calls costs a few transactions, not one each. Should that
 * round fail, its calls are stored one at a time, so that only a failing
 * call fails; should the database be unavailable, they and the calls
 * waiting are refused at once. Each call gets the outcome of the round that
 * stored it.
 *
 * Once {@link stop}ped it starts nothing more: the rounds already sent end
 * as the database ends them, and every other call is refused with
 * SERVICE_UNAVAILABLE before anything of it is written.
 */
export class RecordQueue<Item extends KeyedEvent, Outcome> {
  /** A workspace is here while its rounds run. */
  private readonly workspaces = new Map<string, WorkspaceQueue<Item, Outcome>>();
  private stopped = false;

  constructor(private readonly store: StoreRound<Item, Outcome>) {}

  /** Whether {@link stop} was called: a round under way should not be tried again. */
  get stopping(): boolean {
    return this.stopped;
  }

  /** Queues a call for its workspace's next round, starting one if fewer than {@link ROUNDS_IN_FLIGHT} run. */
  submit(workspaceId: string, items: Item[]): Promise<Outcome> {
    if (this.stopped) return Promise.reject(stoppingError());
    return new Promise((resolve, reject) => {
      let workspace = this.workspaces.get(workspaceId);
      if (!workspace) this.workspaces.set(workspaceId, (workspace = { calls: [], rounds: 0 }));
      workspace.calls.push({ items, resolve, reject });
      if (workspace.rounds < ROUNDS_IN_FLIGHT) {
        workspace.rounds++;
        void this.drain(workspaceId, workspace);
      }
    });
  }

  /**
   * Refuses the calls waiting for a round, and every later call; a round
   * under way is not followed by another. For a stopping process, whose
   * running statements are about to be cancelled.
   */
  stop(): void {
    this.stopped = true;
    for (const workspace of this.workspaces.values()) {
      for (const call of workspace.calls.splice(0)) call.reject(stoppingError());
    }
  }

  /** Stores a workspace's waiting calls, round after round, until none wait. */
  private async drain(workspaceId: string, workspace: WorkspaceQueue<Item, Outcome>): Promise<void> {
    try {
      while (workspace.calls.length > 0) await this.storeRound(workspaceId, workspace, takeRound(workspace.calls));
    } finally {
      workspace.rounds--;
      if (workspace.rounds === 0 && workspace.calls.length === 0) this.workspaces.delete(workspaceId);
    }
  }

  private async storeRound(workspaceId: string, workspace: WorkspaceQueue<Item, Outcome>, calls: QueuedCall<Item, Outcome>[]): Promise<void> {
    if (calls.length > 1) {
      try {
        const outcome = await this.store(workspaceId, calls.flatMap((call) => call.items));
        for (const call of calls) call.resolve(outcome);
        return;
      } catch (error) {
        if (isDatabaseUnavailable(error)) return this.refuse([...calls, ...workspace.calls.splice(0)], error);
        // Nothing of the round was written: each call is tried alone, and only a failing one fails.
      }
    }
    for (let index = 0; index < calls.length; index++) {
      const call = calls[index];
      if (this.stopped) {
        call.reject(stoppingError());
        continue;
      }
      try {
        call.resolve(await this.store(workspaceId, call.items));
      } catch (error) {
        if (isDatabaseUnavailable(error)) return this.refuse([call, ...calls.slice(index + 1), ...workspace.calls.splice(0)], error);
        call.reject(error);
      }
    }
  }

  /**
   * Refuses calls because the database is unavailable: tried one after the
   * other, each would wait for it in turn (a frozen server answers nothing
   * until DB_ANSWER_TIMEOUT_MS), so the calls of the round and those waiting
   * behind it are refused at once. Their clients send them again with the
   * same keys. A statement cancelled by the stop says so instead.
   */
  private refuse(calls: readonly QueuedCall<Item, Outcome>[], error: unknown): void {
    for (const call of calls) call.reject(this.stopped ? stoppingError() : error);
  }
}

/**
 * The calls at the head of a workspace's queue that go into one round: in
 * arrival order, at most {@link MAX_ROUND_EVENTS} events (a larger call goes
 * alone), and no key in two calls (a later call with a key of an earlier one
 * waits for the next round, where it sees that key stored).
 */
function takeRound<Item extends KeyedEvent, Outcome>(queue: QueuedCall<Item, Outcome>[]): QueuedCall<Item, Outcome>[] {
  const round = [queue.shift()!];
  const keys = new Set(round[0].items.map((item) => item.event.idempotencyKey));
  let events = round[0].items.length;
  while (queue.length > 0) {
    const next = queue[0];
    if (events + next.items.length > MAX_ROUND_EVENTS) break;
    if (next.items.some((item) => keys.has(item.event.idempotencyKey))) break;
    for (const item of next.items) keys.add(item.event.idempotencyKey);
    events += next.items.length;
    round.push(queue.shift()!);
  }
  return round;
}

/** Nothing of the call was stored, or its commit was cut short: a retry with the same keys stores it once. */
function stoppingError(): ServiceUnavailableError {
  return new ServiceUnavailableError("The service is stopping. Send the call again, with the same idempotency keys.");
}

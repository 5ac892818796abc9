/**
 * Request ids for the panels' postMessage protocol, after vscode-hexeditor's MessageHandler: a
 * request carries an id, every reply carries it back, and a map of pending requests routes each
 * reply to the caller that asked. Two things differ from an RPC with one promise per request:
 *
 * - a request has a stream of replies (Started, maps or progress, then Done, a result or
 *   Failed); it stays pending until its last reply, which `isLast` recognises;
 * - a panel runs one request of each kind at a time: a newer one supersedes the older, which
 *   is aborted and forgotten, so its late replies are dropped (`route` returns false).
 *
 * Both sides keep one: the webview for what it asked (ids 1, 2, 3…), the host for the runs it
 * answers (the webview's ids) or starts itself (ids -1, -2, -3…, so the two never collide).
 * Nothing stays behind: a request is forgotten on its last reply, when it ends (the host's
 * `end`), when superseded, and on dispose. No DOM and no vscode imports: both sides import it.
 */

/** Which side keeps the map: it decides the sign of the ids this side hands out. */
export type RequestSide = 'webview' | 'host';

/** A request in flight. */
export interface PendingRequest<K extends string = string> {
  readonly id: number;
  readonly kind: K;
  /** Aborted when the request is cancelled, superseded or disposed. */
  readonly signal: AbortSignal;
  /** Whether it still counts: not superseded, ended or disposed (a cancelled one counts until it ends). */
  readonly current: boolean;
}

/** A reply: any message that may carry a request id. */
export interface Reply {
  requestId?: number;
}

export interface PendingRequestsOptions<R> {
  side: RequestSide;
  /** Whether a reply is its request's last (Done, Failed, a result): the request is then forgotten. */
  isLast?(reply: R): boolean;
}

export interface StartOptions<R> {
  /** The request's id when the other side chose it (the host answering the webview); default: a new one. */
  id?: number;
  /** Gets every reply routed to this request while it is pending. */
  onReply?(reply: R): void;
}

class Entry<K extends string, R> implements PendingRequest<K> {
  readonly abort = new AbortController();
  current = true;
  constructor(readonly id: number, readonly kind: K, readonly onReply: ((reply: R) => void) | undefined) {}
  get signal(): AbortSignal {
    return this.abort.signal;
  }
}

/**
 * The requests one side of a panel has in flight, by id; at most one of each kind. `R` is what
 * the other side sends back (the messages that carry no request id are not routed here).
 */
export class PendingRequests<K extends string, R = Reply> {
  private readonly pending = new Map<number, Entry<K, R>>();
  private readonly step: 1 | -1;
  private next: number;

  constructor(private readonly options: PendingRequestsOptions<R>) {
    this.step = options.side === 'webview' ? 1 : -1;
    this.next = this.step;
  }

  /** How many requests are pending (at most one per kind). */
  get size(): number {
    return this.pending.size;
  }

  /**
   * Starts a request of `kind`: the pending one of that kind, if any, is superseded (aborted and
   * forgotten). Post the request with the returned id.
   */
  start(kind: K, options: StartOptions<R> = {}): PendingRequest<K> {
    const id = options.id ?? this.newId();
    this.forget(this.entryOf(kind), true);
    this.forget(this.pending.get(id), true);
    const entry = new Entry<K, R>(id, kind, options.onReply);
    this.pending.set(id, entry);
    return entry;
  }

  /** The pending request with this id, if any. */
  get(id: number | undefined): PendingRequest<K> | undefined {
    return id === undefined ? undefined : this.pending.get(id);
  }

  /** The pending request of a kind, if any. */
  latest(kind: K): PendingRequest<K> | undefined {
    return this.entryOf(kind);
  }

  /**
   * Hands a reply to the pending request whose id it carries, and forgets the request after its
   * last reply. Returns false, and hands it to no one, when no pending request has that id: it
   * answers a request that was superseded, has ended, or was never made here.
   */
  route(reply: R & Reply): boolean {
    const entry = reply.requestId === undefined ? undefined : this.pending.get(reply.requestId);
    if (!entry) return false;
    if (this.options.isLast?.(reply)) this.forget(entry, false);
    entry.onReply?.(reply);
    return true;
  }

  /** Aborts the pending request with this id; it stays pending until it ends (its failure is its last reply). */
  cancel(id: number | undefined): boolean {
    const entry = id === undefined ? undefined : this.pending.get(id);
    entry?.abort.abort();
    return entry !== undefined;
  }

  /** Forgets a request that has ended (no-op if it was superseded or already forgotten). */
  end(request: PendingRequest<K> | undefined): void {
    if (request && this.pending.get(request.id) === request) this.forget(request as Entry<K, R>, false);
  }

  /** Aborts and forgets every pending request. */
  dispose(): void {
    for (const e of [...this.pending.values()]) this.forget(e, true);
  }

  private entryOf(kind: K): Entry<K, R> | undefined {
    for (const e of this.pending.values()) if (e.kind === kind) return e;
    return undefined;
  }

  private newId(): number {
    const id = this.next;
    this.next += this.step;
    return id;
  }

  private forget(entry: Entry<K, R> | undefined, abort: boolean): void {
    if (!entry) return;
    entry.current = false;
    this.pending.delete(entry.id);
    if (abort) entry.abort.abort();
  }
}

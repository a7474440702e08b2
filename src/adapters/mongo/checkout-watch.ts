/**
 * Watches the MongoDB driver's pool for a connection held by one operation past the driver's
 * own bound on it (socketTimeoutMS): an operation whose answer, and whose connection's end,
 * never come.
 *
 * Under Bun a pooled connection whose server was killed while it sat idle was seen never to
 * learn that the socket had closed (the model-based tests, mongodb-only mode): the next
 * command written on it waited forever, the driver's socket timeout (Node's
 * `socket.setTimeout`, which it arms per command) never firing either. The request that sent
 * it got 503 timeout, and every later request for that GUID waited behind it in the GUID's
 * actor. A checkout past the bound (plus a grace) is that; the store then ends the connection
 * as the driver would on a socket error (mongo/store.ts), with timers of its own.
 */
export interface CheckoutWatchOptions {
  socketTimeoutMS: number
  /** Past the driver's own bound, how long before a checkout counts as stuck. */
  graceMs: number
  now: () => number
}

export interface StuckCheckout {
  address: string
  connectionId: number | string
  lateMs: number
}

export class CheckoutWatch {
  /** Per `address#connectionId`: by when the connection must be back (ms, `now`'s clock). */
  private readonly due = new Map<string, { address: string; connectionId: number | string; at: number }>()

  constructor(private readonly o: CheckoutWatchOptions) {}

  checkedOut(address: string, connectionId: number | string): void {
    this.due.set(`${address}#${connectionId}`, { address, connectionId, at: this.o.now() + this.o.socketTimeoutMS + this.o.graceMs })
  }

  /** Checked in, or closed: either way no longer held. */
  ended(address: string, connectionId: number | string): void {
    this.due.delete(`${address}#${connectionId}`)
  }

  /** The connections held past the bound, each reported once. */
  overdue(): StuckCheckout[] {
    const now = this.o.now()
    const stuck: StuckCheckout[] = []
    for (const [key, { address, connectionId, at }] of this.due) {
      if (now <= at) continue
      this.due.delete(key)
      stuck.push({ address, connectionId, lateMs: now - at })
    }
    return stuck
  }

  /** Forgets every checkout: the pool they belonged to is gone. */
  reset(): void {
    this.due.clear()
  }
}

import { hashGuidKey, parseGuidKey } from './guid-key'
import { UserSlab } from './user-slab'

const NONE = -1
/** The most slots a table may have: 3.2 GB of rows and a 512 MiB index, reserved, not touched. */
export const MAX_SLOTS = 50_000_000

/**
 * One slot's row: 64 bytes (a cache line), so that a lookup touches the index and one row.
 * Offsets are in bytes; each field is read through the typed view of its width.
 */
const ROW = 64
const KEY = 0 // 4 x u32: the GUID's 16 bytes
const VERSION = 16 // f64
const EXPIRE = 24 // f64
const UNTIL = 32 // f64: a deadline in clock milliseconds (Infinity: none)
const PREV = 40 // i32: LRU list, towards the most recently used
const NEXT = 44 // i32: towards the least recently used; the free chain for a free slot
const USER_BLOCK = 48 // i32: UserSlab block, -1 for none
const USER_LENGTH = 52 // u16: its bytes
const KIND = 54 // u8: 0 marks a free slot; the caller gives every other value its meaning

/**
 * A bounded map from GUID to a kind, a version, an expire, a deadline and an optional `user`
 * string, held outside the JavaScript heap, in least-recently-used order.
 *
 * Each slot is a 64-byte row of one ArrayBuffer; an open-addressing index (linear probing,
 * at most half full, backward-shift deletion) maps a key's seeded hash to its slot. Both are
 * allocated for `max` slots at once: a fresh ArrayBuffer is zero pages the system backs only
 * when written, and slots are handed out in order, so memory grows with the entries held and
 * nothing is ever copied or rehashed. At `max` an insert evicts the least recently used slot.
 * Nothing here is a JavaScript object per entry, so a full table costs the collector nothing
 * to trace.
 */
export class GuidTable {
  private f64!: Float64Array
  private u32!: Uint32Array
  private i32!: Int32Array
  private u16!: Uint16Array
  private u8!: Uint8Array
  private index!: Int32Array
  private mask = 0
  /** Slots ever handed out; freed ones are chained from freeHead through NEXT. */
  private highWater = 0
  private freeHead = NONE
  private head = NONE
  private tail = NONE
  private count = 0
  private readonly probe = new Uint32Array(4)
  private readonly seed = (Math.random() * 2 ** 32) >>> 0
  private readonly users = new UserSlab()

  constructor(private readonly max: number) {
    if (!Number.isInteger(max) || max < 1 || max > MAX_SLOTS) throw new TypeError(`max must be an integer from 1 to ${MAX_SLOTS}`)
    this.allocate()
  }

  get size(): number {
    return this.count
  }

  kind(slot: number): number {
    return this.u8[slot * ROW + KIND]!
  }

  version(slot: number): number {
    return this.f64[(slot * ROW + VERSION) >> 3]!
  }

  expire(slot: number): number {
    return this.f64[(slot * ROW + EXPIRE) >> 3]!
  }

  until(slot: number): number {
    return this.f64[(slot * ROW + UNTIL) >> 3]!
  }

  /** Writes the slot's fields (its key and user are set apart). */
  write(slot: number, kind: number, version: number, expire: number, until: number): void {
    const at = slot * ROW
    this.u8[at + KIND] = kind
    this.f64[(at + VERSION) >> 3] = version
    this.f64[(at + EXPIRE) >> 3] = expire
    this.f64[(at + UNTIL) >> 3] = until
  }

  /** The GUID's slot, or -1; recency is unchanged. */
  find(guid: string): number {
    if (!parseGuidKey(guid, this.probe, 0)) return NONE
    return this.lookup()
  }

  /** Marks the slot as the most recently used. */
  touch(slot: number): void {
    if (slot === this.head) return
    this.unlink(slot)
    this.linkFirst(slot)
  }

  /**
   * The GUID's slot, made the most recently used; a new one (kind 0, no user; the caller
   * writes it) when absent, evicting the least recently used at `max`. -1 when the string is
   * not a canonical GUID.
   */
  claim(guid: string): number {
    if (!parseGuidKey(guid, this.probe, 0)) return NONE
    const found = this.lookup()
    if (found !== NONE) {
      this.touch(found)
      return found
    }
    if (this.count === this.max) this.remove(this.tail)
    let slot: number
    if (this.freeHead !== NONE) {
      slot = this.freeHead
      this.freeHead = this.i32[(slot * ROW + NEXT) >> 2]!
    } else slot = this.highWater++
    const at = slot * ROW
    this.u32.set(this.probe, (at + KEY) >> 2)
    this.i32[(at + USER_BLOCK) >> 2] = NONE
    this.u8[at + KIND] = 0
    this.place(slot)
    this.linkFirst(slot)
    this.count++
    return slot
  }

  remove(slot: number): void {
    this.displace(slot)
    this.unlink(slot)
    this.setUser(slot, undefined)
    this.u8[slot * ROW + KIND] = 0
    this.i32[(slot * ROW + NEXT) >> 2] = this.freeHead
    this.freeHead = slot
    this.count--
  }

  user(slot: number): string | undefined {
    const block = this.i32[(slot * ROW + USER_BLOCK) >> 2]!
    return block === NONE ? undefined : this.users.read(block, this.u16[(slot * ROW + USER_LENGTH) >> 1]!)
  }

  setUser(slot: number, user: string | undefined): void {
    const at = slot * ROW
    const block = this.i32[(at + USER_BLOCK) >> 2]!
    if (block !== NONE) this.users.release(block)
    this.i32[(at + USER_BLOCK) >> 2] = NONE
    if (user !== undefined) {
      const stored = this.users.store(user)
      this.i32[(at + USER_BLOCK) >> 2] = stored.block
      this.u16[(at + USER_LENGTH) >> 1] = stored.length
    }
  }

  clear(): void {
    this.users.clear()
    this.highWater = 0
    this.freeHead = this.head = this.tail = NONE
    this.count = 0
    this.allocate()
  }

  /** Bytes in use (the rows handed out, the index, the user blocks), for the benchmark. */
  bytes(): number {
    return this.highWater * ROW + this.index.byteLength + this.users.bytes()
  }

  private lookup(): number {
    const { u32, index, mask, probe } = this
    for (let i = hashGuidKey(probe, 0, this.seed) & mask; ; i = (i + 1) & mask) {
      const entry = index[i]!
      if (entry === 0) return NONE
      const k = ((entry - 1) * ROW + KEY) >> 2
      if (u32[k] === probe[0] && u32[k + 1] === probe[1] && u32[k + 2] === probe[2] && u32[k + 3] === probe[3]) return entry - 1
    }
  }

  private home(slot: number): number {
    return hashGuidKey(this.u32, (slot * ROW + KEY) >> 2, this.seed) & this.mask
  }

  /** Enters the slot in the index (its key is not there). */
  private place(slot: number): void {
    const { index, mask } = this
    let i = this.home(slot)
    while (index[i] !== 0) i = (i + 1) & mask
    index[i] = slot + 1
  }

  /** Takes the slot out of the index, shifting back the entries of its probe run behind it. */
  private displace(slot: number): void {
    const { index, mask } = this
    let hole = this.home(slot)
    while (index[hole] !== slot + 1) hole = (hole + 1) & mask
    for (let i = (hole + 1) & mask; index[i] !== 0; i = (i + 1) & mask) {
      const home = this.home(index[i]! - 1)
      // The entry at i moves into the hole unless its home lies cyclically in (hole, i].
      if (((i - home) & mask) >= ((i - hole) & mask)) {
        index[hole] = index[i]!
        hole = i
      }
    }
    index[hole] = 0
  }

  private linkFirst(slot: number): void {
    const { i32 } = this
    i32[(slot * ROW + PREV) >> 2] = NONE
    i32[(slot * ROW + NEXT) >> 2] = this.head
    if (this.head !== NONE) i32[(this.head * ROW + PREV) >> 2] = slot
    this.head = slot
    if (this.tail === NONE) this.tail = slot
  }

  private unlink(slot: number): void {
    const { i32 } = this
    const p = i32[(slot * ROW + PREV) >> 2]!
    const n = i32[(slot * ROW + NEXT) >> 2]!
    if (p === NONE) this.head = n
    else i32[(p * ROW + NEXT) >> 2] = n
    if (n === NONE) this.tail = p
    else i32[(n * ROW + PREV) >> 2] = p
  }

  /** Fresh rows and index for `max` slots (zero pages until written). */
  private allocate(): void {
    const rows = new ArrayBuffer(this.max * ROW)
    this.f64 = new Float64Array(rows)
    this.u32 = new Uint32Array(rows)
    this.i32 = new Int32Array(rows)
    this.u16 = new Uint16Array(rows)
    this.u8 = new Uint8Array(rows)
    let indexSize = 2
    while (indexSize < this.max * 2) indexSize *= 2
    this.index = new Int32Array(indexSize)
    this.mask = indexSize - 1
  }
}

/**
 * `user` strings as UTF-8 bytes outside the JavaScript heap: blocks of 16 to 1024 bytes (the
 * longest `user`, 256 code points, is at most 1024), each size class in 64 KiB chunks with a
 * free list, so a freed block is reused by the next string of its class and the collector has
 * no string per entry to trace. A block is named by one integer: its class and its index.
 */

const MIN_SHIFT = 4 // 16 bytes
const MAX_SHIFT = 10 // 1024 bytes
const CHUNK_BYTES = 64 * 1024
const INDEX_BITS = 26

const encoder = new TextEncoder()

class SizeClass {
  private readonly chunks: Buffer[] = []
  private used = 0
  private free = new Int32Array(64)
  private freeCount = 0
  private readonly perChunkShift: number

  constructor(readonly shift: number) {
    this.perChunkShift = Math.log2(CHUNK_BYTES) - shift
  }

  alloc(): number {
    if (this.freeCount > 0) return this.free[--this.freeCount]!
    const index = this.used++
    if (index >> this.perChunkShift === this.chunks.length) this.chunks.push(Buffer.alloc(CHUNK_BYTES))
    return index
  }

  release(index: number): void {
    if (this.freeCount === this.free.length) {
      const grown = new Int32Array(this.free.length * 2)
      grown.set(this.free)
      this.free = grown
    }
    this.free[this.freeCount++] = index
  }

  /** The chunk that holds block `index`. */
  chunkOf(index: number): Buffer {
    return this.chunks[index >> this.perChunkShift]!
  }

  /** Where block `index` starts in its chunk. */
  offsetOf(index: number): number {
    return (index & ((1 << this.perChunkShift) - 1)) << this.shift
  }

  bytes(): number {
    return this.chunks.length * CHUNK_BYTES + this.free.byteLength
  }
}

export class UserSlab {
  private classes = UserSlab.fresh()
  /** Where a string is encoded before its length (and so its class) is known. */
  private readonly scratch = new Uint8Array(1 << MAX_SHIFT)

  private static fresh(): SizeClass[] {
    return Array.from({ length: MAX_SHIFT - MIN_SHIFT + 1 }, (_, i) => new SizeClass(MIN_SHIFT + i))
  }

  /** Stores `user`: its block and its length in bytes. */
  store(user: string): { block: number; length: number } {
    const n = user.length
    const bytes = this.scratch
    if (n > bytes.length) throw new RangeError('user is longer than 1024 bytes of UTF-8')
    let length = 0
    // ASCII, the common case, is copied byte by byte; anything else goes through the encoder.
    for (; length < n; length++) {
      const c = user.charCodeAt(length)
      if (c > 0x7f) break
      bytes[length] = c
    }
    if (length < n) {
      const { read, written } = encoder.encodeInto(user, bytes)
      if (read !== n) throw new RangeError('user is longer than 1024 bytes of UTF-8')
      length = written
    }
    let shift = MIN_SHIFT
    while (1 << shift < length) shift++
    const cls = this.classes[shift - MIN_SHIFT]!
    const index = cls.alloc()
    cls.chunkOf(index).set(bytes.subarray(0, length), cls.offsetOf(index))
    return { block: ((shift - MIN_SHIFT) << INDEX_BITS) | index, length }
  }

  read(block: number, length: number): string {
    const cls = this.classes[block >>> INDEX_BITS]!
    const index = block & ((1 << INDEX_BITS) - 1)
    const offset = cls.offsetOf(index)
    // Buffer's own UTF-8 slice: about twice as fast as TextDecoder on a short string.
    return cls.chunkOf(index).toString('utf8', offset, offset + length)
  }

  release(block: number): void {
    this.classes[block >>> INDEX_BITS]!.release(block & ((1 << INDEX_BITS) - 1))
  }

  clear(): void {
    this.classes = UserSlab.fresh()
  }

  /** Bytes held, chunks and free lists. */
  bytes(): number {
    let total = 0
    for (const cls of this.classes) total += cls.bytes()
    return total
  }
}

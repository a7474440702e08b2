import { spawnSync } from 'node:child_process'
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'

/**
 * A small disk of the suite's own (a tmpfs mounted in a temp dir) that the model can fill
 * up and free again: the "disk full" fault. Mounting needs root (CI runs as root); where it
 * is refused, the fault is left out of the model and the suite says so.
 */
export interface SmallDisk {
  dir: string
  /** Writes a filler file until the disk has no byte left. */
  fill(): void
  /** Deletes the filler. */
  free(): void
  unmount(): void
}

const FILLER = '.filler'
const mounted = new Set<string>()
process.on('exit', () => {
  for (const dir of mounted) spawnSync('umount', ['-l', dir])
})

export const mountSmallDisk = (parent: string, sizeMiB = 32): SmallDisk | null => {
  const dir = join(parent, 'disk')
  mkdirSync(dir, { recursive: true })
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0700`, 'guidd-model-disk', dir], { encoding: 'utf8' })
  if (r.status !== 0) return null
  mounted.add(dir)
  const filler = join(dir, FILLER)
  return {
    dir,
    fill: () => {
      const fd = openSync(filler, 'a')
      try {
        // Large writes first, then ever smaller ones, until not one byte fits.
        for (const size of [1 << 20, 1 << 16, 1 << 12, 1 << 9, 1]) {
          const chunk = Buffer.alloc(size, 0x61)
          for (;;) {
            try {
              if (writeSync(fd, chunk) < size) break
            } catch (error) {
              if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break
              throw error
            }
          }
        }
      } finally {
        closeSync(fd)
      }
    },
    free: () => rmSync(filler, { force: true }),
    unmount: () => {
      spawnSync('umount', ['-l', dir])
      mounted.delete(dir)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

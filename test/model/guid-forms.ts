import { generateGuid } from '../../src/domain/normalise'

/**
 * The ways a client may write a GUID (docs/api.md): the answer is always the
 * canonical 32 uppercase hex digits, whichever form was sent.
 */
export const FORMS = ['canonical', 'lower', 'hyphenated', 'braced', 'mixed'] as const
export type Form = (typeof FORMS)[number]

const hyphenate = (g: string): string => `${g.slice(0, 8)}-${g.slice(8, 12)}-${g.slice(12, 16)}-${g.slice(16, 20)}-${g.slice(20)}`

/** `guid` (canonical) written in `form`. */
export const writeGuid = (guid: string, form: Form): string => {
  switch (form) {
    case 'canonical':
      return guid
    case 'lower':
      return guid.toLowerCase()
    case 'hyphenated':
      return hyphenate(guid)
    case 'braced':
      return `{${hyphenate(guid).toLowerCase()}}`
    case 'mixed':
      return [...guid].map((c, i) => (i % 2 === 0 ? c.toLowerCase() : c)).join('')
  }
}

/** The same, as a bash expression over the shell variable `name` holding the canonical GUID. */
export const shellGuid = (name: string, form: Form): string => {
  const v = (from: number, n: number) => `\${${name}:${from}:${n}}`
  const hyphenated = `${v(0, 8)}-${v(8, 4)}-${v(12, 4)}-${v(16, 4)}-${v(20, 12)}`
  switch (form) {
    case 'canonical':
      return `$${name}`
    case 'lower':
      return `\${${name},,}`
    case 'hyphenated':
      return hyphenated
    case 'braced':
      // bash lower-cases a whole variable only; the braced form stays upper case in a replay (same GUID).
      return `{${hyphenated}}`
    case 'mixed':
      return `\${${name},}`
  }
}

/** A fresh GUID no other run uses: 128 random bits. */
export const freshGuid = generateGuid

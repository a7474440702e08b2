import { describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Config } from '../../src/runtime/config'
import { catalogue, PROBLEM_TYPE_BASE } from '../../src/http/problems'

const readme = readFileSync(join(import.meta.dir, '../../README.md'), 'utf8')
const rows = (firstCell: RegExp) => readme.split('\n').filter((line) => firstCell.test(line))

describe('README documents', () => {
  test('in at most 350 lines, opening with the two commands a newcomer types', () => {
    // A README for people who run and call guidd; design, tests and bench figures live in docs/,
    // test/README.md and bench/ (issue 16 found it at 1,362 lines, half of it for no user).
    expect(readme.split('\n').length).toBeLessThanOrEqual(351)
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? ''
    expect(firstBlock).toMatch(/^npm ci && npm start /m)
    expect(firstBlock).toMatch(/^npm ci && npm test /m)
  })

  test.each(Object.entries(catalogue))('the error %s with its status', (code, { status }) => {
    const row = rows(/^\| `urn:guidd:problem:/).find((line) => line.startsWith(`| \`${PROBLEM_TYPE_BASE}${code}\` |`))
    expect(row).toBeDefined()
    expect(row).toContain(`| ${status} |`)
  })

  test('no error the catalogue does not have', () => {
    const documented = rows(/^\| `urn:guidd:problem:/).map((line) => /`urn:guidd:problem:([a-z-]+)`/.exec(line)?.[1])
    expect(documented.sort()).toEqual(Object.keys(catalogue).sort())
  })

  test('every configuration variable with its default, and no other', () => {
    const documented = new Map(
      rows(/^\| `[A-Z0-9_]+` \|/).map((line) => {
        const cells = line.split('|').map((c) => c.trim())
        return [cells[1]!.replaceAll('`', ''), cells[2]!] as const
      }),
    )
    expect([...documented.keys()].sort()).toEqual(Object.keys(Config.properties).sort())
    for (const [name, schema] of Object.entries(Config.properties)) {
      const fallback = (schema as { default?: unknown }).default
      expect(documented.get(name)).toBe(fallback === undefined ? '(unset)' : `\`${fallback}\``)
    }
  })
})

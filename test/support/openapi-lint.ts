import SwaggerParser from '@apidevtools/swagger-parser'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { OpenAPI } from 'openapi-types'
import { runToExit } from './process'

const root = join(import.meta.dir, '..', '..')

export interface LintResult {
  errors: number
  warnings: number
  /** `ruleId at pointer: message`, one per problem. */
  problems: string[]
}

interface RedoclyReport {
  totals: { errors: number; warnings: number }
  problems: Array<{ ruleId: string; severity: string; message: string; location: Array<{ pointer: string }> }>
}

/**
 * `redocly lint` with its built-in recommended ruleset (the defaults are the point), on a copy
 * of `doc` in a temp dir, less one rule: info-license, since the project has no license and
 * the document names none (Swagger UI would link a dead spdx.org page). Telemetry and the
 * update check are off: tests reach no host but this one.
 */
export const redoclyLint = async (doc: object): Promise<LintResult> => {
  const dir = mkdtempSync(join(tmpdir(), 'guidd-redocly-'))
  try {
    const file = join(dir, 'openapi.json')
    writeFileSync(file, JSON.stringify(doc, null, 2))
    writeFileSync(join(dir, 'redocly.yaml'), 'extends:\n  - recommended\nrules:\n  info-license: off\n')
    const result = await runToExit({
      cmd: [join(root, 'node_modules', '.bin', 'redocly'), 'lint', file, '--format=json'],
      cwd: dir,
      env: { REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
      timeoutMs: 60_000,
    })
    const start = result.stdout.indexOf('{')
    if (start === -1) throw new Error(`redocly printed no report (exit ${result.code}):\n${result.stdout}${result.stderr}`)
    const report = JSON.parse(result.stdout.slice(start)) as RedoclyReport
    return {
      errors: report.totals.errors,
      warnings: report.totals.warnings,
      problems: report.problems.map((p) => `${p.severity} ${p.ruleId} at ${p.location[0]?.pointer}: ${p.message}`),
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** @apidevtools/swagger-parser's validation (against the OpenAPI 3.1 JSON Schema, $refs resolved); the error list, empty when valid. */
export const swaggerParserErrors = async (doc: object): Promise<string[]> => {
  try {
    await SwaggerParser.validate(structuredClone(doc) as OpenAPI.Document)
    return []
  } catch (error) {
    const details = (error as { details?: Array<{ message: string; instancePath?: string }> }).details
    return details?.map((d) => `${d.instancePath ?? ''} ${d.message}`) ?? [(error as Error).message]
  }
}

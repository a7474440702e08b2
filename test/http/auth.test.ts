import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError } from '../../src/runtime/config'
import { createTestApp, type TestApp } from '../support/app'
import { expectProblem, GUID } from '../support/http'

const KEY = 'k-0123456789abcdef'
const OTHER = 'k-fedcba9876543210'
const bearer = (key: string) => ({ authorization: `Bearer ${key}` })

/** Every /guid route, as [method, path, body]. */
const GUID_ROUTES: Array<[string, string, unknown]> = [
  ['POST', '/guid', { user: 'u' }],
  ['GET', `/guid/${GUID}`, undefined],
  ['POST', `/guid/${GUID}`, { user: 'u' }],
  ['PATCH', `/guid/${GUID}`, { user: 'u' }],
  ['DELETE', `/guid/${GUID}`, undefined],
]

describe('with API_KEYS set', () => {
  let app: TestApp
  beforeAll(async () => {
    app = await createTestApp({ API_KEYS: `${KEY},${OTHER}` })
  })
  afterAll(() => app.close())

  test.each(GUID_ROUTES)('%s %s without a key is 401 with the bare Bearer challenge', async (method, path, body) => {
    const res = await app.req(method, path, body)
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="guidd"')
    await expectProblem(res, 401, 'unauthorized')
  })

  test.each(GUID_ROUTES)('%s %s with a wrong key is 401 invalid_token', async (method, path, body) => {
    const res = await app.req(method, path, body, bearer('k-not-a-key'))
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="guidd", error="invalid_token"')
    const problem = await expectProblem(res, 401, 'unauthorized')
    expect(JSON.stringify(problem)).not.toContain('k-not-a-key')
  })

  test.each([
    ['Basic credentials', `Basic ${btoa(`user:${KEY}`)}`],
    ['a key without the scheme', KEY],
  ])('%s are no bearer key: 401', async (_name, authorization) => {
    await expectProblem(await app.req('GET', `/guid/${GUID}`, undefined, { authorization }), 401, 'unauthorized')
  })

  test('either configured key works, on every route', async () => {
    expect((await app.req('POST', '/guid', { guid: GUID, user: 'u' }, bearer(KEY))).status).toBe(201)
    expect((await app.req('GET', `/guid/${GUID}`, undefined, bearer(OTHER))).status).toBe(200)
    expect((await app.req('POST', `/guid/${GUID}`, { user: 'v' }, bearer(KEY))).status).toBe(200)
    expect((await app.req('PATCH', `/guid/${GUID}`, { user: 'w' }, bearer(OTHER))).status).toBe(200)
    expect((await app.req('DELETE', `/guid/${GUID}`, undefined, bearer(KEY))).status).toBe(204)
  })

  test('the scheme is case-insensitive', async () => {
    expect((await app.req('GET', `/guid/${GUID}`, undefined, { authorization: `bearer ${KEY}` })).status).toBe(404)
  })

  test('a 401 comes before the body is looked at: no 400 or 415 leaks to a stranger', async () => {
    await expectProblem(await app.req('POST', '/guid', '{not json', { 'content-type': 'text/plain' }), 401, 'unauthorized')
  })

  test.each(['/healthz', '/readyz', '/metrics', '/docs', '/docs/json', '/docs/swagger-ui.css'])('%s stays open by default', async (path) => {
    expect((await app.req('GET', path)).status).toBe(200)
  })

  test('failures are counted by reason, and the metric never holds a key', async () => {
    const text = await (await app.req('GET', '/metrics')).text()
    expect(text).toMatch(/^guidd_auth_failures_total\{reason="missing"\} [1-9]\d*$/m)
    expect(text).toMatch(/^guidd_auth_failures_total\{reason="invalid"\} [1-9]\d*$/m)
    expect(text).toMatch(/^guidd_api_keys 2$/m)
    expect(text).not.toContain(KEY)
  })
})

describe('with AUTH_OPS_ENDPOINTS=true', () => {
  let app: TestApp
  beforeAll(async () => {
    app = await createTestApp({ API_KEYS: KEY, AUTH_OPS_ENDPOINTS: 'true' })
  })
  afterAll(() => app.close())

  test.each(['/metrics', '/docs', '/docs/json', '/docs/swagger-ui-bundle.js'])('%s needs the key', async (path) => {
    await expectProblem(await app.req('GET', path), 401, 'unauthorized')
    expect((await app.req('GET', path, undefined, bearer(KEY))).status).toBe(200)
  })

  test.each(['/healthz', '/readyz'])('%s stays open: probes carry no key', async (path) => {
    expect((await app.req('GET', path)).status).toBe(200)
  })
})

describe('with no key configured', () => {
  test('every route is open and an Authorization header is ignored', async () => {
    const app = await createTestApp()
    try {
      expect((await app.req('POST', '/guid', { user: 'u' })).status).toBe(201)
      expect((await app.req('POST', '/guid', { user: 'u' }, bearer('anything'))).status).toBe(201)
      expect(await (await app.req('GET', '/metrics')).text()).toMatch(/^guidd_api_keys 0$/m)
    } finally {
      await app.close()
    }
  })
})

describe('API_KEYS_FILE', () => {
  let app: TestApp | undefined
  afterEach(async () => {
    await app?.close()
    app = undefined
  })

  test('its keys are accepted, comments and blank lines ignored', async () => {
    app = await createTestApp({ API_KEYS_FILE: '{dir}/keys' }, { files: { keys: `# ops team\n${KEY}\n\n` } })
    expect((await app.req('GET', `/guid/${GUID}`, undefined, bearer(KEY))).status).toBe(404)
    await expectProblem(await app.req('GET', `/guid/${GUID}`, undefined, bearer(OTHER)), 401, 'unauthorized')
  })

  test('a reload picks up the changed file: the new key works, the removed one stops', async () => {
    app = await createTestApp({ API_KEYS_FILE: '{dir}/keys' }, { files: { keys: `${KEY}\n` } })
    writeFileSync(join(app.dir, 'keys'), `${OTHER}\n`)
    expect(app.runtime.reloadKeys()).toBe(1)
    expect((await app.req('GET', `/guid/${GUID}`, undefined, bearer(OTHER))).status).toBe(404)
    await expectProblem(await app.req('GET', `/guid/${GUID}`, undefined, bearer(KEY)), 401, 'unauthorized')
    expect(await (await app.req('GET', '/metrics')).text()).toContain('guidd_api_key_reloads_total{result="ok"} 1')
  })

  test('a reload of a broken file keeps the previous keys in force', async () => {
    app = await createTestApp({ API_KEYS_FILE: '{dir}/keys' }, { files: { keys: `${KEY}\n` } })
    writeFileSync(join(app.dir, 'keys'), 'not a key line\n')
    expect(() => app!.runtime.reloadKeys()).toThrow(ConfigError)
    expect((await app.req('GET', `/guid/${GUID}`, undefined, bearer(KEY))).status).toBe(404)
    expect(await (await app.req('GET', '/metrics')).text()).toContain('guidd_api_key_reloads_total{result="failed"} 1')
  })

  test('an empty file admits no one (auth stays on)', async () => {
    app = await createTestApp({ API_KEYS_FILE: '{dir}/keys' }, { files: { keys: '# no keys yet\n' } })
    await expectProblem(await app.req('GET', `/guid/${GUID}`, undefined, bearer(KEY)), 401, 'unauthorized')
  })

  test('a missing file stops the start with a configuration error', async () => {
    await expect(createTestApp({ API_KEYS_FILE: '{dir}/missing' })).rejects.toThrow(ConfigError)
  })
})

import { describe, expect, test } from 'bun:test'
import { behindProxy } from '../../src/http/client-address'

const socket = () => '10.0.0.1'
const req = (forwarded?: string) => new Request('http://localhost/', forwarded === undefined ? {} : { headers: { 'x-forwarded-for': forwarded } })

describe('behindProxy', () => {
  test('the client is the last X-Forwarded-For entry: the one the proxy wrote', () => {
    expect(behindProxy(socket)(req('1.1.1.1, 203.0.113.7'))).toBe('203.0.113.7')
    expect(behindProxy(socket)(req('203.0.113.7'))).toBe('203.0.113.7')
  })

  test('falls back to the socket without the header or with an empty last entry', () => {
    expect(behindProxy(socket)(req())).toBe('10.0.0.1')
    expect(behindProxy(socket)(req('1.1.1.1, '))).toBe('10.0.0.1')
  })
})

import { describe, expect, test } from 'bun:test'
import { DRIVER_TIMEOUTS, unlessInUrl } from '../../src/adapters/mongo/client-options'

describe("the MongoDB driver's timeouts", () => {
  test('all of guidd defaults apply to a URL that sets none', () => {
    expect(unlessInUrl('mongodb://db.example:27017/', DRIVER_TIMEOUTS)).toEqual({ ...DRIVER_TIMEOUTS })
    expect(unlessInUrl('mongodb://a:1,b:2/guidd?replicaSet=rs0&w=majority', DRIVER_TIMEOUTS)).toEqual({ ...DRIVER_TIMEOUTS })
  })

  test("the URL's own value wins, whatever the case of its name", () => {
    expect(unlessInUrl('mongodb+srv://cluster.example/?connectTimeoutMS=10000&SOCKETTIMEOUTMS=0', DRIVER_TIMEOUTS)).toEqual({ serverSelectionTimeoutMS: 3_000 })
  })
})

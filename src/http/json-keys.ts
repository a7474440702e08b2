const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d
const COMMA = 0x2c

/**
 * The first member name that an object of `text` names twice, or undefined. `text` must
 * already be valid JSON (JSON.parse accepted it), so the scan only tracks strings and
 * nesting. Names are compared decoded: `"a"` and `"\u0061"` are the same member.
 */
export const findDuplicateKey = (text: string): string | undefined => {
  // One entry per open container: the names seen so far in an object, null for an array.
  const open: (Set<string> | null)[] = []
  let expectName = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === QUOTE) {
      let end = i + 1
      let escaped = false
      for (let d = text.charCodeAt(end); d !== QUOTE; d = text.charCodeAt(end)) {
        if (d === BACKSLASH) {
          escaped = true
          end += 2
        } else end++
      }
      if (expectName) {
        const name: string = escaped ? JSON.parse(text.slice(i, end + 1)) : text.slice(i + 1, end)
        const names = open[open.length - 1]!
        if (names.has(name)) return name
        names.add(name)
        expectName = false
      }
      i = end
    } else if (c === OPEN_OBJECT) {
      open.push(new Set())
      expectName = true
    } else if (c === OPEN_ARRAY) {
      open.push(null)
      expectName = false
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      open.pop()
      expectName = false
    } else if (c === COMMA) {
      expectName = open[open.length - 1] !== null
    }
  }
  return undefined
}

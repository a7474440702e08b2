/**
 * Redis Cluster's hash slot of a key: CRC16 (XMODEM) of its hash tag (the text inside the first
 * `{...}`, when not empty) or of the whole key, mod 16384 (the cluster specification's keyHashSlot).
 */
const TABLE = Array.from({ length: 256 }, (_, byte) => {
  let crc = byte << 8
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  return crc
})

export const hashSlot = (key: string): number => {
  let hashed = key
  const open = key.indexOf('{')
  if (open >= 0) {
    const close = key.indexOf('}', open + 1)
    if (close > open + 1) hashed = key.slice(open + 1, close)
  }
  let crc = 0
  for (const byte of new TextEncoder().encode(hashed)) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ byte) & 0xff]!
  return crc & 0x3fff
}

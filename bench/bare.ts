/** The baseline: a bare Bun.serve answering a fixed small JSON, to divide the service's figures by. */
const body = JSON.stringify({ guid: '9094E4C980C74043A4B586B420E69DDF', user: 'Cylance, Inc.', expire: 1893456000 })
const server = Bun.serve({
  port: Number(Bun.env.PORT ?? 0),
  hostname: '127.0.0.1',
  fetch: () => new Response(body, { headers: { 'content-type': 'application/json' } }),
})
console.log(`listening ${server.port}`)
process.on('SIGTERM', () => process.exit(0))

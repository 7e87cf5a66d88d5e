import { createServer } from 'node:http'

// Placeholder composition root: answers /healthz. The Server issue fills in the rest.
const port = Number(process.env.PORT ?? 3000)
const host = process.env.HOST ?? '127.0.0.1'

const server = createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ status: 'ok' }))
    return
  }
  res.writeHead(404, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ error: { reason: 'not_found', message: 'Not found' } }))
})

server.listen(port, host, () => {
  console.log(JSON.stringify({ level: 'info', msg: 'parley listening', url: `http://${host}:${port}` }))
})

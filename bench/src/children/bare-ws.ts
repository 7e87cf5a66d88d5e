import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer } from 'ws'

/**
 * The floor for an idle WebSocket in Node: an HTTP server with a `ws` server that accepts
 * connections and does nothing else.
 */
const server = createServer((_req, res) => {
  res.writeHead(200).end('ok')
})
const wss = new WebSocketServer({ server })
wss.on('connection', (socket) => {
  socket.on('error', () => undefined)
})
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo
  process.send?.({ type: 'ready', url: `http://127.0.0.1:${port}` })
})
process.on('message', (message: { id?: number; type?: string }) => {
  if (message.type === 'clients') process.send?.({ id: message.id, count: wss.clients.size })
})
const stop = () => {
  for (const socket of wss.clients) socket.terminate()
  server.close(() => process.exit(0))
}
process.on('disconnect', stop)
process.on('SIGTERM', stop)

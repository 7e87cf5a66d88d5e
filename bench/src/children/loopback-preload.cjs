// Preloaded (`node --require`) into the peer gateway, which listens on every interface and has no
// host option: benchmarks must only ever be reachable on loopback.
const net = require('node:net')

const listen = net.Server.prototype.listen
net.Server.prototype.listen = function listenOnLoopback(...args) {
  const [first] = args
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    const port = Number(first)
    const rest = args.slice(1).filter((arg) => typeof arg !== 'string')
    return listen.call(this, port, '127.0.0.1', ...rest)
  }
  if (first !== null && typeof first === 'object' && !('path' in first && first.path)) {
    return listen.call(this, { ...first, host: '127.0.0.1' }, ...args.slice(1))
  }
  return listen.apply(this, args)
}

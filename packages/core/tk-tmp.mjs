import { Tiktoken } from 'js-tiktoken/lite'
let t0 = performance.now()
const ranks = (await import('js-tiktoken/ranks/o200k_base')).default
const enc = new Tiktoken(ranks)
console.log('load', performance.now() - t0)
for (const s of ['hello world', 'a'.repeat(10000), 'word '.repeat(20000), 'x'.repeat(50000)]) {
  t0 = performance.now(); const n = enc.encode(s).length; console.log(s.length, n, performance.now() - t0)
}

// Drives kubo-rpc-client 7.1.0 through one add / cat / pin / block / repo-stat script and
// prints one line per call, so the output straight from a daemon and through Cairn can be
// compared. Adapted from shared/realpeers/test-kubo-rpc-client.mjs.
// usage: [KUBO_AUTHORIZATION='Bearer …'] node drive.mjs http://127.0.0.1:PORT
// (KUBO_AUTHORIZATION is sent as the Authorization header, as kubo's API.Authorizations want)
import { create } from 'kubo-rpc-client'
import { CID } from 'multiformats/cid'
const auth = process.env.KUBO_AUTHORIZATION
const ipfs = create({ url: process.argv[2], headers: auth ? { authorization: auth } : {} })
const log = (k, v) => console.log(k.padEnd(14), typeof v === 'string' ? v : JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? x.toString() + 'n' : x?.asCID ? x.toString() : x)))
const step = async (name, fn) => { try { log(name, await fn()) } catch (e) { log(name, 'ERROR ' + (e.message || e)) } }
await step('version', () => ipfs.version())
await step('id', async () => (await ipfs.id()).id.toString())
let cid
await step('add', async () => { const r = await ipfs.add(new TextEncoder().encode('hello world')); cid = r.cid; return { cid: r.cid.toString(), size: r.size, path: r.path } })
await step('add cidv1', async () => (await ipfs.add('hello world', { cidVersion: 1 })).cid.toString())
await step('cat', async () => { const chunks = []; for await (const c of ipfs.cat(cid)) chunks.push(c); return Buffer.concat(chunks).toString() })
await step('pin.rm', async () => (await ipfs.pin.rm(cid)).toString())
await step('pin.ls(cid)', async () => { const o = []; for await (const p of ipfs.pin.ls({ paths: [cid] })) o.push(p); return o.map(p => `${p.cid} ${p.type}`) })
await step('pin.add', async () => (await ipfs.pin.add(cid)).toString())
await step('pin.ls(cid)', async () => { const o = []; for await (const p of ipfs.pin.ls({ paths: [cid] })) o.push(p); return o.map(p => `${p.cid} ${p.type}`) })
await step('pin.ls(recur)', async () => { const o = []; for await (const p of ipfs.pin.ls({ type: 'recursive' })) o.push(p.cid.toString()); return o.length + ' pins' })
await step('block.put', async () => (await ipfs.block.put(new TextEncoder().encode('raw block bytes'))).toString())
await step('block.put raw', async () => (await ipfs.block.put(new TextEncoder().encode('raw block bytes'), { format: 'raw' })).toString())
await step('block.get', async () => new TextDecoder().decode(await ipfs.block.get(CID.parse('bafkreiaqagdj3poekh5c3qqe354rymzlcmnmg3g5y3gkafxs3c66qvmyta'))))
await step('repo.stat', () => ipfs.repo.stat())
await step('swarm.peers', () => ipfs.swarm.peers())

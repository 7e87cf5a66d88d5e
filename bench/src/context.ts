import { createParleyClient, type ParleyClient, type Transport } from '@parley/client'
import { createDatabase, startPostgres, type TestPostgres } from '@parley/persistence/testing'
import type { BenchConfig } from './config.ts'
import {
  type Parley,
  type ParleyStorage,
  type Peer,
  startParley,
  startPeer,
  startUpstream,
  tempDir,
  type Upstream,
} from './systems.ts'

export type StorageKind = ParleyStorage['kind']

/**
 * What the scenarios share: one fake upstream, the peer, a Postgres cluster, and one long-lived
 * Parley per storage kind (started on first use). Scenarios that measure memory or start-up
 * start their own servers.
 */
export class BenchContext {
  private readonly shared = new Map<StorageKind, Promise<Parley>>()
  private readonly cleanups: (() => Promise<void> | void)[] = []
  private postgresCluster: Promise<TestPostgres> | null = null

  private constructor(
    readonly config: BenchConfig,
    readonly upstream: Upstream,
    readonly peer: Peer,
  ) {}

  static async start(config: BenchConfig): Promise<BenchContext> {
    const upstream = await startUpstream()
    const peer = await startPeer(upstream).catch(async (error: unknown) => {
      await upstream.stop()
      throw error
    })
    return new BenchContext(config, upstream, peer)
  }

  log(message: string): void {
    process.stdout.write(`  ${message}\n`)
  }

  /** The throwaway Postgres 15 cluster (started on first use). */
  postgres(): Promise<TestPostgres> {
    this.postgresCluster ??= startPostgres().then((cluster) => {
      this.cleanups.push(() => cluster.stop())
      return cluster
    })
    return this.postgresCluster
  }

  /** A new, empty database on the cluster. */
  async newDatabase(): Promise<string> {
    const cluster = await this.postgres()
    const database = await createDatabase(cluster.url)
    return database.url
  }

  /** Fresh storage of a kind: a new database, or a new PGlite data directory. */
  async newStorage(kind: StorageKind): Promise<ParleyStorage> {
    if (kind === 'postgres') return { kind, url: await this.newDatabase() }
    const dir = tempDir('parley-bench-')
    this.cleanups.push(() => dir.cleanup())
    return { kind, dataDir: dir.path }
  }

  /** The shared Parley of a storage kind, pointed at the shared upstream. */
  parley(kind: StorageKind): Promise<Parley> {
    let started = this.shared.get(kind)
    if (!started) {
      started = this.newStorage(kind).then((storage) =>
        startParley({ name: `parley (${kind})`, storage, upstream: this.upstream }),
      )
      this.shared.set(kind, started)
      started.catch(() => undefined)
    }
    return started
  }

  /** A Parley of its own, stopped by the caller (or at the end of the run). */
  async freshParley(kind: StorageKind, upstream: Upstream = this.upstream): Promise<Parley> {
    const storage = await this.newStorage(kind)
    const parley = await startParley({ name: `parley (${kind}, fresh)`, storage, upstream })
    this.cleanups.push(() => parley.stop())
    return parley
  }

  /** A typed client; closed at the end of the run. */
  client(parley: Parley, transport: Transport): ParleyClient {
    const client = createParleyClient({ url: parley.url, transport })
    this.cleanups.push(() => client.close())
    return client
  }

  /** Stops the shared servers (fresh ones are the caller's). */
  async stopShared(): Promise<void> {
    for (const started of this.shared.values()) {
      const parley = await started.catch(() => null)
      await parley?.stop()
    }
    this.shared.clear()
  }

  async close(): Promise<void> {
    await this.stopShared()
    for (const cleanup of this.cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => undefined)
    await this.peer.stop()
    await this.upstream.stop()
  }
}

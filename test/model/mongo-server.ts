import { startFerretdb } from '../support/ferretdb'

/**
 * The MongoDB of a model mode: a FerretDB of the suite's own (test/support/ferretdb.ts) on a
 * free port with a temp data dir, and a database name of this run's own, so nothing another
 * run left can meet the model. Stopped and started again on the same data and port for the
 * "MongoDB down" fault.
 */
export interface ModelMongo {
  url: string
  db: string
  running(): boolean
  /** Stops it, the data kept: `graceful` waits for its own shutdown (SIGTERM), else SIGKILL at once (a crash). */
  stop(how: 'graceful' | 'kill-9'): Promise<void>
  /** Starts it again on the same port and data and waits until it answers a ping. */
  start(): Promise<void>
  dispose(): Promise<void>
}

/** FerretDB takes ~3 s to stop on SIGTERM while clients hold connections; SIGKILL after this. */
const STOP_GRACE_MS = 10_000

export const startModelMongo = async (): Promise<ModelMongo> => {
  const server = await startFerretdb()
  return {
    url: server.url,
    db: `guidd_model_${process.pid}_${Date.now().toString(36)}`,
    running: () => server.pid() !== null,
    stop: (how) => server.stop(how === 'graceful' ? STOP_GRACE_MS : 0),
    start: () => server.start(),
    dispose: () => server.dispose(),
  }
}

import { PidsCpu, pidsNamed, PostgresCpu } from './group-cpu.js';
import type { PeerContext, PeerMeasurement } from './peer-system.js';

/**
 * Measures the job: wall time of `job` and the CPU of the workers, the
 * bench database's share of the PostgreSQL server and Redis while it runs;
 * `job` returns the master's CPU seconds (measured on its own processes).
 */
export async function measureGroups(ctx: PeerContext, workerPids: number[], job: () => Promise<number>): Promise<PeerMeasurement> {
  const workers = new PidsCpu(workerPids);
  const redis = new PidsCpu(pidsNamed('redis-server'));
  const database = new PostgresCpu(ctx.serverUrl, ctx.db.name);
  await database.start();
  workers.start();
  redis.start();
  const started = process.hrtime.bigint();
  let master: number;
  try {
    master = await job();
  } catch (error) {
    await database.stop();
    throw error;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = { master, workers: workers.stop(), redis: redis.stop(), database: await database.stop() };
  return { seconds, cpu };
}

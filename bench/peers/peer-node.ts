import { createMicroNode, type MicroBatchEntry, type MicroRecord } from '../../src/micro/index.js';
import { digestOf } from './bench-record.js';

/**
 * The kit node of the peers bench: the demo node's digest (examples/demo-node.ts
 * with BATCH_SIZE), plus `seq`, a counter of the records this node processed,
 * so that the bench can check the order records were processed in, per entity,
 * as it does for the peers (workmesh pulls it into `processed_seq`).
 * PORT, HOST, API_KEY, DATA_FILE, BATCH_SIZE.
 */
async function main(): Promise<void> {
  let seq = 0;
  const batchSize = Number(process.env.BATCH_SIZE ?? 500);
  const processBatch = (records: MicroRecord[]): MicroBatchEntry[] => records.map((record) => ({ hash: digestOf(record), seq: ++seq }));
  const node = createMicroNode({
    apiKey: process.env.API_KEY,
    dataFile: process.env.DATA_FILE ?? './peer-node.db',
    protocols: { deliveries: { processBatch, batchSize } },
  });
  const shutdown = (): void => {
    setTimeout(() => process.exit(1), 10_000).unref();
    node.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  const address = await node.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1');
  process.stdout.write(`listening ${address.port}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { createMicroNode, type MicroBatchEntry, type MicroProtocol, type MicroRecord, type MicroResult } from '../src/micro/index.js';

/**
 * A runnable node for the demo and the tests. Configured by environment:
 * PORT (0 = any free port), HOST (127.0.0.1), API_KEY, DATA_FILE,
 * PROTOCOLS (comma-separated names), PROCESS_DELAY_MS (per record),
 * BATCH_SIZE (records processed per chunk, whose outcomes are stored in one
 * transaction; 1, the default, processes and stores record by record).
 * A record whose `subject` contains FAIL fails in processing; one whose
 * `subject` contains REJECT is refused at push time, with the rest of its batch stored.
 * HEADERS_TIMEOUT_MS, REQUEST_TIMEOUT_MS and MAX_CONNECTIONS set the kit's
 * limits for slow clients; TLS_KEY_FILE and TLS_CERT_FILE (PEM) serve https.
 * Prints `listening <port>` once it accepts requests.
 */
async function main(): Promise<void> {
  const port = integerFromEnv('PORT', 0);
  const delayMs = integerFromEnv('PROCESS_DELAY_MS', 0);
  const batchSize = integerFromEnv('BATCH_SIZE', 1);
  if (batchSize < 1) throw new Error('BATCH_SIZE must be at least 1');
  const names = (process.env.PROTOCOLS ?? 'deliveries')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');

  const processRecord = async (record: MicroRecord): Promise<MicroResult> => {
    if (delayMs > 0) await sleep(delayMs);
    if (typeof record.subject === 'string' && record.subject.includes('FAIL')) throw new Error('unparseable record');
    return { hash: createHash('sha256').update(JSON.stringify(record)).digest('hex') };
  };
  // A chunk stores its outcomes in one durable transaction instead of one per record (one fsync per chunk).
  const processBatch = async (records: MicroRecord[]): Promise<MicroBatchEntry[]> => {
    const entries: MicroBatchEntry[] = [];
    for (const record of records) {
      try {
        entries.push(await processRecord(record));
      } catch (error) {
        entries.push({ error: error instanceof Error ? error.message : String(error) });
      }
    }
    return entries;
  };
  // A record whose subject says REJECT is refused at push time (node contract v1.1 `rejected`); the rest of its batch is stored.
  const validate = (record: MicroRecord): string | undefined =>
    typeof record.subject === 'string' && record.subject.includes('REJECT') ? 'unreadable payload' : undefined;
  const protocol: MicroProtocol = batchSize === 1 ? { validate, process: processRecord } : { validate, processBatch, batchSize };
  const protocols: Record<string, MicroProtocol> = Object.fromEntries(names.map((name) => [name, protocol]));

  const keyFile = process.env.TLS_KEY_FILE;
  const certFile = process.env.TLS_CERT_FILE;
  if ((keyFile === undefined) !== (certFile === undefined)) throw new Error('set both TLS_KEY_FILE and TLS_CERT_FILE, or neither');
  const node = createMicroNode({
    apiKey: process.env.API_KEY,
    dataFile: process.env.DATA_FILE ?? './demo-node.db',
    protocols,
    ...optionalInteger('headersTimeoutMs', 'HEADERS_TIMEOUT_MS'),
    ...optionalInteger('requestTimeoutMs', 'REQUEST_TIMEOUT_MS'),
    ...optionalInteger('maxConnections', 'MAX_CONNECTIONS'),
    ...(keyFile !== undefined && certFile !== undefined && { tls: { key: readFileSync(keyFile), cert: readFileSync(certFile) } }),
  });
  const shutdown = (): void => {
    // A record stuck in processing must not keep a stopped node alive forever.
    setTimeout(() => process.exit(1), 10_000).unref();
    node.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  // Installed before the `listening` line: a supervisor may signal the moment it reads it.
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);

  const address = await node.listen(port, process.env.HOST ?? '127.0.0.1');
  process.stdout.write(`listening ${address.port}\n`);
}

/** `{ [key]: value }` when the variable is set, so the kit's own default applies otherwise. */
function optionalInteger<K extends string>(key: K, name: string): Partial<Record<K, number>> {
  const value = integerFromEnv(name, -1);
  return value === -1 ? {} : ({ [key]: value } as Record<K, number>);
}

function integerFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer (got "${raw}")`);
  return value;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

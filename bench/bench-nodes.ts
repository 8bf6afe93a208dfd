import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { BenchNodeAddress } from './bench-config.js';

const DEMO_NODE = fileURLToPath(new URL('../examples/demo-node.js', import.meta.url));
const STUB_NODE = fileURLToPath(new URL('./stub-node.js', import.meta.url));
const START_TIMEOUT_MS = 15_000;

export interface BenchNode extends BenchNodeAddress {
  apiKey: string;
  pid: number;
}

export interface BenchNodes {
  nodes: BenchNode[];
  /** SIGTERM to every node, then waits for them to exit. */
  stop(): Promise<void>;
}

export interface BenchNodesProps {
  /** Folder for the nodes' data files. */
  dir: string;
  count: number;
  /** Name prefix, so that two sets of nodes in one run have distinct files. */
  prefix?: string;
  /** The demo node's BATCH_SIZE: records processed and stored per transaction. */
  processBatch: number;
  /** Writes a V8 CPU profile per node into this folder when set. */
  profileDir?: string;
  /** `stub`: nodes that only parse and answer (bench/stub-node.ts), to measure the master alone. */
  kind?: 'demo' | 'stub';
}

/**
 * Starts `count` demo nodes (examples/demo-node.ts, built with the kit), each
 * a process of its own with its own SQLite data file and API key, on free ports.
 */
export async function startBenchNodes(props: BenchNodesProps): Promise<BenchNodes> {
  const children: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      ),
    );
  };
  try {
    const nodes = await Promise.all(
      Array.from({ length: props.count }, async (_, i): Promise<BenchNode> => {
        const name = `${props.prefix ?? 'node'}${i + 1}`;
        const apiKey = randomBytes(16).toString('hex');
        const profile = props.profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', props.profileDir, '--cpu-prof-name', `${name}.cpuprofile`];
        const child = spawn(process.execPath, [...profile, props.kind === 'stub' ? STUB_NODE : DEMO_NODE], {
          env: {
            ...process.env,
            PORT: '0',
            HOST: '127.0.0.1',
            API_KEY: apiKey,
            DATA_FILE: join(props.dir, `${name}.db`),
            PROTOCOLS: 'deliveries',
            BATCH_SIZE: String(props.processBatch),
          },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        children.push(child);
        const port = await waitForPort(child, name);
        return { name, url: `http://127.0.0.1:${port}`, apiKeyVariable: `WORKMESH_BENCH_${name.toUpperCase()}_KEY`, apiKey, pid: child.pid! };
      }),
    );
    return { nodes, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function waitForPort(child: ChildProcess, name: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node ${name} did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const match = /^listening (\d+)$/.exec(line.trim());
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`node ${name} exited with status ${code} before listening`));
    });
  });
}

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { packageFile } from '../package-files.js';

const DEMO_NODE = packageFile('dist/examples/demo-node.js');
const START_TIMEOUT_MS = 15_000;

export interface RunningDemoNode {
  name: string;
  url: string;
  apiKeyVariable: string;
  apiKey: string;
  pid: number;
}

export interface DemoNodesOptions {
  /** Folder for the nodes' data files. */
  dir: string;
  count: number;
  /** Name prefix, `node` when left out: node1, node2… */
  prefix?: string;
  /** The node program; examples/demo-node.js when left out. */
  script?: string;
  /** More environment for every node (e.g. BATCH_SIZE). */
  env?: Record<string, string>;
  /** Node.js flags for one node (e.g. --cpu-prof). */
  execArgv?: (name: string) => string[];
  /** Prefix of the environment variable naming each node's key in nodes.config.ts; `WORKMESH_DEMO` when left out. */
  keyVariablePrefix?: string;
}

/**
 * Starts local nodes, each a separate process built with the micro-service
 * kit (examples/demo-node.ts) on a free port with its own data file and a
 * random API key, handed over through the environment, never argv.
 */
export async function startDemoNodes(options: DemoNodesOptions): Promise<{ nodes: RunningDemoNode[]; stop(): Promise<void> }> {
  const children: ChildProcess[] = [];
  const stop = async () => {
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
      Array.from({ length: options.count }, async (_, i): Promise<RunningDemoNode> => {
        const name = `${options.prefix ?? 'node'}${i + 1}`;
        const apiKey = randomBytes(16).toString('hex');
        const child = spawn(process.execPath, [...(options.execArgv?.(name) ?? []), options.script ?? DEMO_NODE], {
          env: {
            ...process.env,
            PORT: '0',
            HOST: '127.0.0.1',
            API_KEY: apiKey,
            DATA_FILE: join(options.dir, `${name}.db`),
            PROTOCOLS: 'deliveries',
            ...options.env,
          },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        children.push(child);
        const port = await waitForPort(child, name);
        const apiKeyVariable = `${options.keyVariablePrefix ?? 'WORKMESH_DEMO'}_${name.toUpperCase()}_KEY`;
        return { name, url: `http://127.0.0.1:${port}`, apiKeyVariable, apiKey, pid: child.pid! };
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

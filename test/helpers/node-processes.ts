import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageFile } from '../../src/package-files.js';

const DEMO_NODE = packageFile('dist/examples/demo-node.js');
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 10_000;

export interface NodeProcess {
  name: string;
  /** `http://127.0.0.1:<port>`; the port stays the same across restart(). */
  url: string;
  apiKey: string;
  dataFile: string;
  /** Changes on restart(). */
  pid: number;
}

export interface NodeProcessesOptions {
  protocols: string[];
  /** One key for every node; random when left out. */
  apiKey?: string;
  processDelayMs?: number;
}

export interface NodeProcesses {
  nodes: NodeProcess[];
  /** SIGTERM to every node still running, then removes the data files. */
  stop(): Promise<void>;
  /** SIGKILL: the node gets no chance to finish anything. */
  kill(name: string): Promise<void>;
  /** Starts a killed or stopped node again on its port, with its data file. */
  restart(name: string): Promise<void>;
}

interface Running {
  node: NodeProcess;
  child: ChildProcess | undefined;
  port: number;
}

/**
 * Spawns `count` real demo nodes (`node dist/examples/demo-node.js`), named
 * node1..nodeN, each with a data file of its own. Needs `npm run build` first.
 *
 * @example
 * const cluster = await startNodeProcesses(2, { protocols: ['deliveries'] });
 * try { ... cluster.nodes[0].url ... } finally { await cluster.stop(); }
 */
export async function startNodeProcesses(count: number, options: NodeProcessesOptions): Promise<NodeProcesses> {
  if (!existsSync(DEMO_NODE)) throw new Error(`${DEMO_NODE} is missing: run \`npm run build\` first`);
  const dir = mkdtempSync(join(tmpdir(), 'workmesh-nodes-'));
  const apiKey = options.apiKey ?? randomBytes(16).toString('hex');
  const running = new Map<string, Running>();

  const launch = async (entry: Running): Promise<void> => {
    const { child, port } = await spawnNode({
      PORT: String(entry.port),
      API_KEY: apiKey,
      DATA_FILE: entry.node.dataFile,
      PROTOCOLS: options.protocols.join(','),
      PROCESS_DELAY_MS: String(options.processDelayMs ?? 0),
    });
    entry.child = child;
    entry.port = port;
    entry.node.pid = child.pid ?? -1;
    entry.node.url = `http://127.0.0.1:${port}`;
  };

  const find = (name: string): Running => {
    const entry = running.get(name);
    if (entry === undefined) throw new Error(`no node named ${name}`);
    return entry;
  };

  const halt = async (entry: Running, signal: NodeJS.Signals): Promise<void> => {
    const { child } = entry;
    entry.child = undefined;
    if (child === undefined) return;
    await stopChild(child, signal);
  };

  try {
    for (let i = 1; i <= count; i++) {
      const name = `node${i}`;
      const entry: Running = {
        node: { name, url: '', apiKey, dataFile: join(dir, `${name}.db`), pid: -1 },
        child: undefined,
        port: 0,
      };
      running.set(name, entry);
      await launch(entry);
    }
  } catch (error) {
    await Promise.all([...running.values()].map((entry) => halt(entry, 'SIGKILL')));
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }

  return {
    nodes: [...running.values()].map((entry) => entry.node),
    async stop() {
      await Promise.all([...running.values()].map((entry) => halt(entry, 'SIGTERM')));
      rmSync(dir, { recursive: true, force: true });
    },
    kill: (name) => halt(find(name), 'SIGKILL'),
    async restart(name) {
      const entry = find(name);
      await halt(entry, 'SIGTERM');
      // The port was just freed; a bind can still lose a race with the kernel, so try a few times.
      for (let attempt = 1; ; attempt++) {
        try {
          await launch(entry);
          return;
        } catch (error) {
          if (attempt === 3) throw error;
          await new Promise((done) => setTimeout(done, 200));
        }
      }
    },
  };
}

async function spawnNode(env: Record<string, string>): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [DEMO_NODE], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr += chunk;
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let stdout = '';
      const timer = setTimeout(() => fail(new Error(`demo node did not start in ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      function fail(error: Error): void {
        clearTimeout(timer);
        reject(new Error(`${error.message}\n${stderr}`));
      }
      child.once('error', fail);
      child.once('exit', (code, signal) => fail(new Error(`demo node exited (${signal ?? code}) before listening`)));
      child.stdout?.setEncoding('utf8');
      child.stdout?.on('data', (chunk: string) => {
        stdout += chunk;
        const match = /^listening (\d+)$/m.exec(stdout);
        if (match?.[1] !== undefined) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
    });
    // Keep draining so a chatty node never blocks on a full pipe.
    child.stdout?.resume();
    return { child, port };
  } catch (error) {
    await stopChild(child, 'SIGKILL');
    throw error;
  }
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

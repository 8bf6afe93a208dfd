import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const DEMO_NODE = fileURLToPath(new URL('../../examples/demo-node.js', import.meta.url));

export interface RunningDemoNode {
  name: string;
  url: string;
  apiKeyVariable: string;
  apiKey: string;
}

/**
 * Starts local nodes, each a separate process built with the micro-service
 * kit (examples/demo-node.ts) on a free port with its own data file and a
 * random API key, handed over through the environment, never argv.
 */
export async function startDemoNodes(dir: string, count: number): Promise<{ nodes: RunningDemoNode[]; stop(): Promise<void> }> {
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
      Array.from({ length: count }, async (_, i) => {
        const name = `node${i + 1}`;
        const apiKey = randomBytes(16).toString('hex');
        const child = spawn(process.execPath, [DEMO_NODE], {
          env: { ...process.env, PORT: '0', HOST: '127.0.0.1', API_KEY: apiKey, DATA_FILE: join(dir, `${name}.db`), PROTOCOLS: 'deliveries' },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        children.push(child);
        const port = await waitForPort(child, name);
        return { name, url: `http://127.0.0.1:${port}`, apiKeyVariable: `WORKMESH_DEMO_${name.toUpperCase()}_KEY`, apiKey };
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
    const timer = setTimeout(() => reject(new Error(`demo node ${name} did not start within 10 s`)), 10_000);
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
      reject(new Error(`demo node ${name} exited with status ${code} before listening`));
    });
  });
}

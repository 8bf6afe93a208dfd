import { spawn } from 'node:child_process';
import { readProcessUsage, type ProcessUsage } from '../process-usage.js';

const POLL_MS = 10;

export interface MeasuredRun {
  wallSeconds: number;
  cpuSeconds: number;
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node script args` and measures it from the outside: wall time, and CPU from /proc (last reading before exit). */
export async function runMeasured(script: string, args: string[], env: Record<string, string>): Promise<MeasuredRun> {
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  let last: ProcessUsage | undefined;
  const poll = setInterval(() => {
    last = readProcessUsage(child.pid!) ?? last;
  }, POLL_MS);
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => resolve(code));
  });
  clearInterval(poll);
  return { wallSeconds: Number(process.hrtime.bigint() - started) / 1e9, cpuSeconds: last?.cpuSeconds ?? 0, exitCode, stdout, stderr };
}

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { readProcessUsage, type ProcessUsage } from './process-usage.js';

const MESH = fileURLToPath(new URL('../cli/mesh.js', import.meta.url));
/** How often the child's /proc entries are read while it runs. */
const POLL_MS = 10;

export interface MeshRun {
  /** From spawn to exit, seconds. */
  wallSeconds: number;
  /** VmHWM of the mesh process at its last reading, bytes. */
  peakRssBytes: number;
  /** CPU the mesh process used, seconds (last reading before exit). */
  cpuSeconds: number;
  exitCode: number | null;
  /** The `--json` summary the command printed. */
  summary: unknown;
  stderr: string;
}

export interface MeshRunProps {
  command: string[];
  env: NodeJS.ProcessEnv;
  /** Writes a V8 CPU profile of the child into this folder when set. */
  profileDir?: string;
  profileName?: string;
  /** Extra Node.js flags for the child. */
  nodeFlags?: string[];
}

/**
 * Runs `node dist/cli/mesh.js <command> --json` as a child process, the way
 * a cron job would, and measures it from the outside: wall time, peak RSS
 * and CPU from /proc while it runs.
 */
export async function runMesh(props: MeshRunProps): Promise<MeshRun> {
  const profile =
    props.profileDir === undefined
      ? []
      : ['--cpu-prof', '--cpu-prof-dir', props.profileDir, '--cpu-prof-name', `${props.profileName ?? 'mesh'}.cpuprofile`];
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [...profile, ...(props.nodeFlags ?? []), MESH, ...props.command, '--json'], {
    env: props.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  let last: ProcessUsage | undefined;
  let peakRssBytes = 0;
  const poll = setInterval(() => {
    // An exiting process (a zombie) still has a stat file but no memory lines any more.
    last = readProcessUsage(child.pid!) ?? last;
    peakRssBytes = Math.max(peakRssBytes, last?.peakRssBytes ?? 0);
  }, POLL_MS);
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => resolve(code));
  });
  const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  clearInterval(poll);
  // Diagnostic flags (--trace-gc) print on stdout too: the summary is the document that starts a line with `{`.
  const start = stdout.startsWith('{') ? 0 : stdout.lastIndexOf('\n{') + 1;
  let summary: unknown;
  try {
    summary = JSON.parse(stdout.slice(start));
  } catch {
    summary = undefined;
  }
  const other = stdout.slice(0, start).trimEnd();
  return {
    wallSeconds,
    peakRssBytes,
    cpuSeconds: last?.cpuSeconds ?? 0,
    exitCode,
    summary,
    stderr: other === '' ? stderr : `${other}\n${stderr}`,
  };
}

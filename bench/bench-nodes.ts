import { fileURLToPath } from 'node:url';
import { startDemoNodes, type RunningDemoNode } from '../src/demo/demo-nodes.js';

const STUB_NODE = fileURLToPath(new URL('./stub-node.js', import.meta.url));

export type BenchNode = RunningDemoNode;

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

/** The demo's nodes (or stub nodes), with the bench's batch size, profiling and key names. */
export function startBenchNodes(props: BenchNodesProps): Promise<BenchNodes> {
  const { profileDir } = props;
  return startDemoNodes({
    dir: props.dir,
    count: props.count,
    ...(props.prefix !== undefined && { prefix: props.prefix }),
    ...(props.kind === 'stub' && { script: STUB_NODE }),
    env: { BATCH_SIZE: String(props.processBatch) },
    ...(profileDir !== undefined && {
      execArgv: (name: string) => ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', `${name}.cpuprofile`],
    }),
    keyVariablePrefix: 'WORKMESH_BENCH',
  });
}

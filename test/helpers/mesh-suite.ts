import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { DialectName } from '../../src/db/database-url.js';
import { createMeshTest, startCluster, type MeshTest, type NodeCluster } from './mesh-fixture.js';

export interface MeshSuite {
  /** A database, a protocol and `nodes` recording proxies of the test's own, cleaned up after the test. */
  newTest(dialect: DialectName, nodes: number): Promise<MeshTest>;
  /** A fresh directory under the system temp directory, removed after the test. */
  tempDir(): string;
  /** Work to undo after the test; it runs in reverse order of registration, with the suite's own cleanups. */
  cleanups: { push(cleanup: () => Promise<void>): void };
  /** The suite's node processes (started in beforeAll). */
  cluster(): NodeCluster;
}

/**
 * The scaffolding of a push or pull suite, called once at the top level of
 * the test file: starts a cluster of `nodes` demo node processes before the
 * file's tests and stops it after them, and after each test runs that
 * test's cleanups last-registered first. Every cleanup runs even when one
 * fails; the first failure then fails the test.
 */
export function useMeshSuite(options: { nodes: number; tempPrefix: string }): MeshSuite {
  let cluster: NodeCluster | undefined;
  const pending: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    cluster = await startCluster(options.nodes);
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  afterEach(async () => {
    const failures: unknown[] = [];
    for (const cleanup of pending.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length > 0) throw failures[0];
  });

  const suite: MeshSuite = {
    async newTest(dialect, nodes) {
      const test = await createMeshTest(dialect, suite.cluster(), nodes);
      pending.push(() => test.cleanup());
      return test;
    },
    tempDir() {
      const dir = mkdtempSync(join(tmpdir(), options.tempPrefix));
      pending.push(async () => rmSync(dir, { recursive: true, force: true }));
      return dir;
    },
    cleanups: {
      push(cleanup) {
        pending.push(cleanup);
      },
    },
    cluster() {
      if (cluster === undefined) throw new Error('useMeshSuite: the cluster is not started (call it at the top level of the test file)');
      return cluster;
    },
  };
  return suite;
}

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Creating a user needs root; under CI the suites run as root, and fail rather than skip otherwise. */
export const RUN_SECOND_USER_TESTS = process.getuid?.() === 0 || Boolean(process.env.CI);

export interface ThrowawayUser {
  name: string;
  uid: number;
  /** Runs a shell command as this user; resolves with its stdout, rejects on a non-zero exit. */
  sh(command: string): Promise<string>;
  remove(): Promise<void>;
}

/**
 * A local account of its own for a test (another user on the master's
 * machine), removed afterwards. useradd and userdel lock /etc/passwd, which
 * parallel test files (the SSH suites create users too) may hold: retried.
 */
export async function createThrowawayUser(): Promise<ThrowawayUser> {
  if (process.getuid?.() !== 0) throw new Error('a throwaway user can only be created as root (the tests run as root in CI)');
  const name = `wmuser${randomBytes(4).toString('hex')}`;
  await retried(() => run('useradd', ['--no-create-home', '--home-dir', '/nonexistent', '--shell', '/bin/sh', name]));
  const uid = Number((await run('id', ['-u', name])).stdout.trim());
  return {
    name,
    uid,
    sh: async (command) => (await run('runuser', ['-u', name, '--', 'sh', '-c', command])).stdout,
    remove: () => retried(() => run('userdel', [name])).then(() => undefined),
  };
}

async function retried<T>(action: () => Promise<T>, tries = 30): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await action();
    } catch (error) {
      if (attempt >= tries) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

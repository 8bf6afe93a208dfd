import { accessSync, constants } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { ConfigProblem } from './config-problem.js';
import { expandHomePath } from './home-path.js';
import type { NodeConfig } from './node-config.js';

/**
 * File paths in nodes.config.ts are the config author's, written next to the
 * file: `tls.ca: './certs/ca.pem'` means beside nodes.config.ts whatever
 * folder cron starts `mesh` in. Each is made absolute (after `~`) against the
 * config file's folder, and the files that must already exist are checked
 * now, so that a typo is a config error at load rather than a failure at
 * every request. Returns new node objects; the input is left as it was.
 */
export function resolveConfigPaths(nodes: NodeConfig[], baseDir: string): { nodes: NodeConfig[]; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const absolute = (path: string): string => {
    const expanded = expandHomePath(path);
    return isAbsolute(expanded) ? expanded : resolve(baseDir, expanded);
  };
  const readable = (file: string, path: string, what: string): void => {
    try {
      accessSync(file, constants.R_OK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      problems.push({ path, message: `${what} ${file} cannot be read (${code === 'ENOENT' ? 'no such file' : code})` });
    }
  };
  const resolved = nodes.map((node, i) => {
    // Run alongside the other checks, so a node may still be malformed here: only well-formed paths are looked at.
    if (node === null || typeof node !== 'object') return node;
    const copy: NodeConfig = { ...node };
    if (node.tls !== null && typeof node.tls === 'object' && typeof node.tls.ca === 'string' && node.tls.ca !== '') {
      const ca = absolute(node.tls.ca);
      readable(ca, `nodes[${i}].tls.ca`, 'CA file');
      copy.tls = { ...node.tls, ca };
    }
    if (node.ssh !== null && typeof node.ssh === 'object') {
      const ssh = { ...node.ssh };
      if (typeof ssh.privateKeyPath === 'string' && ssh.privateKeyPath !== '') {
        ssh.privateKeyPath = absolute(ssh.privateKeyPath);
        readable(ssh.privateKeyPath, `nodes[${i}].ssh.privateKeyPath`, 'private key');
      }
      // May not exist yet: trust on first use creates it.
      if (typeof ssh.knownHosts === 'string' && ssh.knownHosts !== '') ssh.knownHosts = absolute(ssh.knownHosts);
      copy.ssh = ssh;
    }
    return copy;
  });
  return { nodes: resolved, problems };
}

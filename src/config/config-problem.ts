import { maskUrlPassword } from './mask-url-password.js';

/** One thing wrong in the configuration, at a path like `services[0].protocols[1].sort`. */
export interface ConfigProblem {
  path: string;
  message: string;
}

/** Every problem found in the configuration, reported together. */
export class ConfigError extends Error {
  readonly problems: ConfigProblem[];
  /**
   * Set when a config file's loading was given up on (its time limit): its
   * code may still hold timers or sockets, which must not keep `mesh` alive.
   */
  readonly givenUp: boolean;

  constructor(given: ConfigProblem[], options: { givenUp?: boolean } = {}) {
    // A message may quote config text (a parser's code frame, a malformed URL): a URL's password is never shown.
    const problems = given.map((p) => ({ path: maskUrlPassword(p.path), message: maskUrlPassword(p.message) }));
    super(
      `invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  ${p.path}: ${p.message}`).join('\n'),
    );
    this.name = 'ConfigError';
    this.problems = problems;
    this.givenUp = options.givenUp ?? false;
  }
}

/** One thing wrong in the configuration, at a path like `services[0].protocols[1].sort`. */
export interface ConfigProblem {
  path: string;
  message: string;
}

/** Every problem found in the configuration, reported together. */
export class ConfigError extends Error {
  readonly problems: ConfigProblem[];

  constructor(problems: ConfigProblem[]) {
    super(
      `invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  ${p.path}: ${p.message}`).join('\n'),
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

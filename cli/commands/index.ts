import type { Command } from '../command.js';

/** Every `mesh` command, in the order `mesh --help` lists them. */
export const COMMANDS: Command[] = [];

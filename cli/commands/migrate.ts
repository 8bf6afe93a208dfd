import { migrateDatabase } from '../../src/db/migrate-database.js';
import type { CommandContext } from '../command.js';

export async function run(ctx: CommandContext): Promise<number> {
  const config = await ctx.config();
  const database = await ctx.database({ unchecked: true });
  const dryRun = Boolean(ctx.options['dry-run']);
  const result = await migrateDatabase(database, config, { dryRun });
  if (ctx.out.json) {
    ctx.out.document(result);
    return result.problems.length > 0 ? 2 : 0;
  }
  for (const warning of result.warnings) ctx.out.error(`mesh migrate: warning: ${warning}`);
  if (result.problems.length > 0) {
    for (const problem of result.problems) ctx.out.error(`mesh migrate: ${problem}`);
  } else if (result.steps.length === 0) {
    ctx.out.line('nothing to do: the database is up to date');
  } else {
    for (const step of result.steps) {
      ctx.out.line(`${dryRun ? 'would apply' : 'applied'}: ${step.description}`);
      for (const statement of step.sql) ctx.out.line(`  ${statement};`);
    }
  }
  // A configured table or column that does not exist is a configuration problem: nothing was written.
  return result.problems.length > 0 ? 2 : 0;
}

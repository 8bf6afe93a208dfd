import { isLoopbackHost, startDashboard } from '../../dashboard/dashboard-server.js';
import { UsageError, type CommandContext } from '../command.js';
import { parseWholeNumber } from '../parse-number.js';

export const DEFAULT_DASHBOARD_PORT = 4545;
export const DEFAULT_DASHBOARD_HOST = '127.0.0.1';

/** `mesh dashboard`: parses its options and serves the dashboard until SIGINT or SIGTERM. */
export async function run(ctx: CommandContext): Promise<number> {
  const host = ctx.options.host ?? DEFAULT_DASHBOARD_HOST;
  const port = ctx.options.port === undefined ? DEFAULT_DASHBOARD_PORT : parseWholeNumber(ctx.options.port, '--port', 0, 65535);
  const token = process.env.WORKMESH_DASHBOARD_TOKEN || undefined;
  if (!isLoopbackHost(host) && token === undefined) {
    throw new UsageError(
      `--host ${host} is not a loopback address: set WORKMESH_DASHBOARD_TOKEN first, or the dashboard's actions would be open to the network`,
    );
  }
  const config = await ctx.config();
  const database = await ctx.database();
  const dashboard = await startDashboard({ database, config, host, port, ...(token !== undefined && { token }) });
  ctx.out.line(`dashboard: ${dashboard.url}${token === undefined ? ' (read-only: set WORKMESH_DASHBOARD_TOKEN to allow retries)' : ''}`);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  await dashboard.close();
  return signal === 'SIGINT' ? 130 : 143;
}

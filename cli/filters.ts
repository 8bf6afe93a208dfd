import { requireNode, requireService, type MeshConfig } from '../src/config/mesh-config.js';
import { UnknownNameError } from '../src/config/unknown-name-error.js';
import { UsageError, type CommandContext } from './command.js';

/** The filters a command took (--service, --node, --protocol, --entity), checked against the configuration. */
export interface Filters {
  service?: string;
  node?: string;
  protocol?: string;
  entity?: string;
}

/**
 * Checks each filter given names something the configuration declares
 * (exit 2 otherwise, before anything is read), and that `--entity` is not
 * ambiguous: an entity id means something within one service only.
 */
export function checkedFilters(ctx: CommandContext, config: MeshConfig): Filters {
  const { service, node, protocol, entity } = ctx.options;
  const filters: Filters = {};
  if (service !== undefined) filters.service = requireService(config, service).name;
  if (node !== undefined) filters.node = requireNode(config, node).name;
  if (protocol !== undefined) {
    const services = service === undefined ? config.services : [requireService(config, service)];
    const names = services.flatMap((s) => s.protocols.map((p) => p.name));
    if (!names.includes(protocol)) {
      const where = service === undefined ? '' : ` in ${service}`;
      throw new UnknownNameError(`unknown protocol "${protocol}"${where}; services.config.ts declares: ${[...new Set(names)].join(', ')}`);
    }
    filters.protocol = protocol;
  }
  if (entity !== undefined) {
    if (entity === '') throw new UsageError('--entity needs an id');
    if (service === undefined && config.services.length > 1)
      throw new UsageError('--entity needs --service S: several services are configured');
    filters.entity = entity;
    filters.service ??= config.services[0]?.name;
  }
  return filters;
}

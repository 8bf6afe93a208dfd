import { defineServices } from 'workmesh';

export default defineServices([
  {
    name: 'micro.emails.timeline',
    entity: {
      table: 'account',
      id: 'id',
      node: 'node_for_micro_emails_timeline',
      weight: 'weight',
    },
    assign: 'roundrobin',
    protocols: [
      {
        name: 'deliveries',
        table: 'delivery',
        id: 'id',
        sort: 'create_time',
        entityRef: 'id_account',
        batchSize: 500,
        push: { path: '/api/1.0/deliveries/push.json' },
        pull: {
          statusPath: '/api/1.0/deliveries/status.json',
          path: '/api/1.0/deliveries/pull.json',
          columns: { hash: 'result_hash' },
        },
        maxAttempts: 10,
      },
    ],
  },
]);

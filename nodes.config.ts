import { defineNodes } from 'workmesh';

// Two local nodes, as `node dist/examples/demo-node.js` starts them (see README).
export default defineNodes([
  {
    name: 'node1',
    url: 'http://127.0.0.1:3001',
    apiKey: process.env.NODE1_API_KEY ?? 'dev-key-node1',
    services: {
      'micro.emails.timeline': { maxEntities: 5000, maxWeight: 500 },
    },
    timeoutMs: 30_000,
  },
  {
    name: 'node2',
    url: 'http://127.0.0.1:3002',
    apiKey: process.env.NODE2_API_KEY ?? 'dev-key-node2',
    services: {
      'micro.emails.timeline': { maxEntities: 5000 },
    },
  },
]);

import http from 'node:http';

/**
 * Many nodes that cost nothing, in one process: COUNT servers on their own
 * ports, each parsing every body as any node must and storing nothing. A push
 * is answered at once and its last record id kept per path, so that status
 * reports it as processed and a pull gets a result for every id asked: push
 * and pull measure the master alone, however many nodes. Configured by COUNT
 * and API_KEY; prints `listening <port>,<port>,...` once all accept requests.
 */
async function main(): Promise<void> {
  const apiKey = process.env.API_KEY ?? '';
  const count = Number(process.env.COUNT ?? 1);
  const servers: http.Server[] = [];
  const ports: number[] = [];
  for (let i = 0; i < count; i++) {
    const lastPushed = new Map<string, unknown>();
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        let status = 200;
        let body: string;
        const path = req.url ?? '';
        const protocolPath = path.slice(0, path.lastIndexOf('/'));
        if (req.headers.authorization !== `Bearer ${apiKey}`) {
          status = 401;
          body = '{"status":"error","message":"missing or wrong API key"}';
        } else if (req.method === 'GET') {
          body = JSON.stringify({ status: 'success', lastProcessedId: lastPushed.get(protocolPath) ?? null });
        } else {
          const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { records?: { id: unknown }[]; ids?: unknown[] };
          if (path.endsWith('/push.json')) {
            const last = parsed.records?.[parsed.records.length - 1];
            if (last !== undefined) lastPushed.set(protocolPath, last.id);
            body = '{"status":"success"}';
          } else {
            const results = (parsed.ids ?? []).map((id) => ({ id, hash: String(id).padStart(64, '0') }));
            body = JSON.stringify({ status: 'success', results });
          }
        }
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
    });
    // Idle keep-alive connections stay open longer than the master's pool keeps them (undici: 4 s), so that a
    // node idle while the others work never closes a connection under a request ("other side closed").
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    ports.push(typeof address === 'object' && address ? address.port : 0);
    servers.push(server);
  }
  process.once('SIGTERM', () => {
    for (const server of servers) server.close();
    process.exit(0);
  });
  process.stdout.write(`listening ${ports.join(',')}\n`);
}

void main();

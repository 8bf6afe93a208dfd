import http from 'node:http';

/**
 * A node that does nothing but answer: it reads and parses each push body,
 * as any node must, stores nothing and answers success. Pushing to it
 * measures the master alone. Configured by PORT (0 = any free port) and
 * API_KEY; prints `listening <port>` once it accepts requests.
 */
function main(): void {
  const apiKey = process.env.API_KEY ?? '';
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let status = 200;
      let body: string;
      if (req.headers.authorization !== `Bearer ${apiKey}`) {
        status = 401;
        body = '{"status":"error","message":"missing or wrong API key"}';
      } else if (req.method === 'POST') {
        const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { records?: unknown[] };
        body = JSON.stringify({ status: 'success', stored: parsed.records?.length ?? 0 });
      } else {
        body = '{"status":"success","lastProcessedId":null}';
      }
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  process.once('SIGTERM', () => server.close(() => process.exit(0)));
  server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
    const address = server.address();
    process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : 0}\n`);
  });
}

main();

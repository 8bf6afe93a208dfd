import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpTransport } from '../../src/nodes/http-transport.js';
import type { NodeCallResult, NodeTransport } from '../../src/nodes/node-transport.js';
import { createMicroNode, type MicroNode, type MicroNodeOptions, type MicroRecord } from '../../src/micro/index.js';

const API_KEY = 'micro-test-key';
const PUSH = '/api/1.0/deliveries/push.json';
const STATUS = '/api/1.0/deliveries/status.json';
const PULL = '/api/1.0/deliveries/pull.json';

interface Running {
  node: MicroNode;
  url: string;
  client: NodeTransport;
  dataFile: string;
}

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  // Every cleanup runs even when one fails, so a failing test leaves no node or temp dir behind.
  const failures: unknown[] = [];
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch (error) {
      failures.push(error);
    }
  }
  if (failures.length > 0) throw failures[0];
});

function tempDataFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'workmesh-micro-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'node.db');
}

async function start(
  options: Partial<MicroNodeOptions> & Pick<MicroNodeOptions, 'protocols'>,
  dataFile = tempDataFile(),
): Promise<Running> {
  const node = createMicroNode({ apiKey: API_KEY, dataFile, ...options });
  cleanups.push(() => node.close());
  const { url } = await node.listen(0);
  const client = transport(url);
  return { node, url, client, dataFile };
}

function transport(url: string, apiKey: string | undefined = API_KEY): NodeTransport {
  const client = createHttpTransport({ name: 'n', url, apiKey, services: {}, timeoutMs: 5_000 });
  cleanups.push(() => client.close());
  return client;
}

function hashOf(record: MicroRecord): string {
  return createHash('sha256').update(JSON.stringify(record)).digest('hex');
}

/** A process function that records the ids it saw and hashes the record. */
function recordingProcess(): { seen: MicroRecord['id'][]; process: (record: MicroRecord) => Promise<{ hash: string }> } {
  const seen: MicroRecord['id'][] = [];
  return {
    seen,
    process: async (record) => {
      seen.push(record.id);
      if (typeof record.subject === 'string' && record.subject.includes('FAIL')) throw new Error('unparseable record');
      return { hash: hashOf(record) };
    },
  };
}

/** A gate the test opens; process functions wait on it. */
function gate(): { wait: Promise<void>; open(): void } {
  let open = (): void => {};
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}

async function waitFor(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function lastProcessedId(client: NodeTransport, path = STATUS): Promise<unknown> {
  const answer = await client.get(path);
  if (!answer.ok) throw new Error(answer.error);
  return answer.body.lastProcessedId;
}

async function pull(client: NodeTransport, ids: (number | string)[], path = PULL): Promise<unknown> {
  const answer = await client.post(path, { service: 's', protocol: 'deliveries', ids });
  if (!answer.ok) throw new Error(answer.error);
  return answer.body.results;
}

function push(client: NodeTransport, records: MicroRecord[], path = PUSH): Promise<NodeCallResult> {
  return client.post(path, { service: 's', protocol: 'deliveries', records });
}

describe('createMicroNode', () => {
  it('answers 401 without the key or with a wrong key, and stores nothing', async () => {
    const { process, seen } = recordingProcess();
    const { url, client } = await start({ protocols: { deliveries: { process } } });

    const noKey = await fetch(`${url}${PUSH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ records: [{ id: 1 }] }),
    });
    expect(noKey.status).toBe(401);
    expect(await noKey.json()).toEqual({ status: 'error', message: 'missing or wrong API key' });

    const wrongKey = await push(transport(url, 'not-the-key'), [{ id: 2 }]);
    expect(wrongKey).toEqual({
      ok: false,
      error: 'HTTP 401: {"status":"error","message":"missing or wrong API key"}',
      failure: 'node',
      where: `POST ${PUSH}`,
    });
    expect(await transport(url, 'not-the-key').get(STATUS)).toMatchObject({ ok: false, error: expect.stringMatching(/^HTTP 401: /) });

    // Had 1 or 2 been stored, the worker would process them before 3.
    expect(await push(client, [{ id: 3 }])).toMatchObject({ ok: true });
    await waitFor(async () => (await lastProcessedId(client)) === 3, 'record 3');
    expect(seen).toEqual([3]);
    expect(await pull(client, [1, 2, 3])).toEqual([{ id: 3, hash: hashOf({ id: 3 }) }]);
  });

  it('stores a push, reports status, and answers pull in the order of the ids, the same twice', async () => {
    const { process } = recordingProcess();
    const { client } = await start({ protocols: { deliveries: { process } } });
    const records = [
      { id: 1, subject: 'a' },
      { id: 2, subject: 'b' },
      { id: 3, subject: 'c' },
    ];

    expect(await client.get(STATUS)).toEqual({ ok: true, body: { status: 'success', lastProcessedId: null } });
    expect(await push(client, records)).toEqual({ ok: true, body: { status: 'success', stored: 3 } });
    await waitFor(async () => (await lastProcessedId(client)) === 3, 'all records');

    const expected = records.map((record) => ({ id: record.id, hash: hashOf(record) }));
    expect(await pull(client, [1, 2, 3])).toEqual(expected);
    expect(await pull(client, [1, 2, 3])).toEqual(expected);
    expect(await pull(client, [3, 1, 99])).toEqual([expected[2], expected[0]]);
  });

  it('treats a record id it already holds as a no-op, numbers and strings alike', async () => {
    const { process, seen } = recordingProcess();
    const { client } = await start({ protocols: { deliveries: { process } } });

    expect(
      await push(client, [
        { id: 1, v: 'first' },
        { id: 2, v: 'first' },
      ]),
    ).toMatchObject({ ok: true, body: { stored: 2 } });
    expect(
      await push(client, [
        { id: 2, v: 'second' },
        { id: '1', v: 'second' },
        { id: 3, v: 'first' },
      ]),
    ).toMatchObject({
      ok: true,
      body: { stored: 1 },
    });
    await waitFor(async () => (await lastProcessedId(client)) === 3, 'record 3');

    expect(seen).toEqual([1, 2, 3]);
    expect(await pull(client, [1, '2'])).toEqual([
      { id: 1, hash: hashOf({ id: 1, v: 'first' }) },
      { id: '2', hash: hashOf({ id: 2, v: 'first' }) },
    ]);
  });

  it('stores a repeated id of one push once, the first, and answers a pull once per id', async () => {
    const { process, seen } = recordingProcess();
    const { client } = await start({ protocols: { deliveries: { process } } });

    const records = [
      { id: 1, v: 'a' },
      { id: 's', v: 'a' },
      { id: 1, v: 'b' },
      { id: '1', v: 'c' },
      { id: 's', v: 'd' },
    ];
    expect(await push(client, records)).toEqual({ ok: true, body: { status: 'success', stored: 2 } });
    await waitFor(async () => (await lastProcessedId(client)) === 's', 'record s');

    expect(seen).toEqual([1, 's']);
    expect(await pull(client, ['s', 1, 's', '1', 'none'])).toEqual([
      { id: 's', hash: hashOf({ id: 's', v: 'a' }) },
      { id: 1, hash: hashOf({ id: 1, v: 'a' }) },
    ]);
  });

  it('keeps ids that are strings as strings', async () => {
    const { process } = recordingProcess();
    const { client } = await start({ protocols: { deliveries: { process } } });

    await push(client, [{ id: '9007199254740993' }]);
    await waitFor(async () => (await lastProcessedId(client)) === '9007199254740993', 'big id');

    expect(await pull(client, ['9007199254740993'])).toEqual([{ id: '9007199254740993', hash: hashOf({ id: '9007199254740993' }) }]);
  });

  it('answers a throw of process as an error entry with its message', async () => {
    const { process } = recordingProcess();
    const { client } = await start({ protocols: { deliveries: { process } } });

    await push(client, [
      { id: 1, subject: 'ok' },
      { id: 2, subject: 'please FAIL' },
      { id: 3, subject: 'ok' },
    ]);
    await waitFor(async () => (await lastProcessedId(client)) === 3, 'all records');

    expect(await pull(client, [1, 2, 3])).toEqual([
      { id: 1, hash: hashOf({ id: 1, subject: 'ok' }) },
      { id: 2, error: 'unparseable record' },
      { id: 3, hash: hashOf({ id: 3, subject: 'ok' }) },
    ]);
  });

  it('runs processBatch in chunks of batchSize, in order, with per-record errors', async () => {
    const chunks: MicroRecord['id'][][] = [];
    const { client } = await start({
      protocols: {
        deliveries: {
          batchSize: 2,
          processBatch: async (records) => {
            chunks.push(records.map((record) => record.id));
            return records.map((record) => (record.id === 4 ? { error: 'bad four' } : { double: Number(record.id) * 2 }));
          },
        },
      },
    });

    await push(
      client,
      [1, 2, 3, 4, 5].map((id) => ({ id })),
    );
    await waitFor(async () => (await lastProcessedId(client)) === 5, 'all records');

    expect(chunks).toEqual([[1, 2], [3, 4], [5]]);
    expect(await pull(client, [1, 2, 3, 4, 5])).toEqual([
      { id: 1, double: 2 },
      { id: 2, double: 4 },
      { id: 3, double: 6 },
      { id: 4, error: 'bad four' },
      { id: 5, double: 10 },
    ]);
  });

  it('fails a whole chunk when processBatch throws or answers the wrong number of entries', async () => {
    let call = 0;
    const { client } = await start({
      protocols: {
        deliveries: {
          batchSize: 2,
          processBatch: async (records) => {
            call += 1;
            if (call === 1) throw new Error('model offline');
            return records.slice(1).map(() => ({ fine: true }));
          },
        },
      },
    });

    await push(
      client,
      [1, 2, 3, 4].map((id) => ({ id })),
    );
    await waitFor(async () => (await lastProcessedId(client)) === 4, 'all records');

    expect(await pull(client, [1, 2, 3, 4])).toEqual([
      { id: 1, error: 'model offline' },
      { id: 2, error: 'model offline' },
      { id: 3, error: 'processBatch returned 1 entries for 2 records' },
      { id: 4, error: 'processBatch returned 1 entries for 2 records' },
    ]);
  });

  it('leaves out ids that are not processed yet', async () => {
    const slow = gate();
    const { client } = await start({
      protocols: {
        deliveries: {
          process: async (record) => {
            if (record.id === 2) await slow.wait;
            return { done: record.id };
          },
        },
      },
    });

    await push(client, [{ id: 1 }, { id: 2 }, { id: 3 }]);
    await waitFor(async () => (await lastProcessedId(client)) === 1, 'record 1');

    expect(await pull(client, [1, 2, 3])).toEqual([{ id: 1, done: 1 }]);
    expect(await lastProcessedId(client)).toBe(1);

    slow.open();
    await waitFor(async () => (await lastProcessedId(client)) === 3, 'all records');
    expect(await pull(client, [1, 2, 3])).toEqual([
      { id: 1, done: 1 },
      { id: 2, done: 2 },
      { id: 3, done: 3 },
    ]);
  });

  it('processes in the order received, across batches, one protocol apart from another', async () => {
    const order: string[] = [];
    const process = (protocol: string) => async (record: MicroRecord) => {
      order.push(`${protocol}:${String(record.id)}`);
      return {};
    };
    const { client } = await start({
      protocols: { deliveries: { process: process('d') }, enrichments: { process: process('e') } },
    });

    await push(client, [{ id: 5 }, { id: 3 }, { id: 9 }]);
    await push(client, [{ id: 3 }, { id: 1 }, { id: 7 }]);
    await push(client, [{ id: 2 }, { id: 1 }], '/api/1.0/enrichments/push.json');
    await waitFor(async () => (await lastProcessedId(client)) === 7, 'deliveries');
    await waitFor(async () => (await lastProcessedId(client, '/api/1.0/enrichments/status.json')) === 1, 'enrichments');

    expect(order.filter((entry) => entry.startsWith('d:'))).toEqual(['d:5', 'd:3', 'd:9', 'd:1', 'd:7']);
    expect(order.filter((entry) => entry.startsWith('e:'))).toEqual(['e:2', 'e:1']);
    expect(await pull(client, [1, 2], '/api/1.0/enrichments/pull.json')).toEqual([{ id: 1 }, { id: 2 }]);
    // Same ids, other protocol: deliveries never received 2.
    expect(await pull(client, [1, 2])).toEqual([{ id: 1 }]);
  });

  it('keeps received records and results across a restart, and processes what was left', async () => {
    const dataFile = tempDataFile();
    const slow = gate();
    const firstSeen: MicroRecord['id'][] = [];
    const first = await start(
      {
        protocols: {
          deliveries: {
            process: async (record) => {
              firstSeen.push(record.id);
              if (record.id === 2) await slow.wait;
              return { by: 'first', id: record.id };
            },
          },
        },
      },
      dataFile,
    );
    await push(first.client, [{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }]);
    await waitFor(() => firstSeen.includes(2), 'record 2 to start');

    // close() lets record 2 finish, then stops before 3.
    const closed = first.node.close();
    slow.open();
    await closed;
    expect(firstSeen).toEqual([1, 2]);

    const secondSeen: MicroRecord['id'][] = [];
    const second = await start(
      {
        protocols: {
          deliveries: {
            process: async (record) => {
              secondSeen.push(record.id);
              return { by: 'second' };
            },
          },
        },
      },
      dataFile,
    );
    await waitFor(async () => (await lastProcessedId(second.client)) === 4, 'records 3 and 4');

    expect(secondSeen).toEqual([3, 4]);
    expect(await pull(second.client, [1, 2, 3, 4])).toEqual([
      { id: 1, by: 'first' },
      { id: 2, by: 'first' },
      { id: 3, by: 'second' },
      { id: 4, by: 'second' },
    ]);
  });

  it('answers unknown paths, wrong methods, bad JSON and bad batches with a JSON error', async () => {
    const { process, seen } = recordingProcess();
    const { url, client } = await start({ protocols: { deliveries: { process } }, maxBodyBytes: 1_000 });
    const send = async (method: string, path: string, body?: string) => {
      const response = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
        ...(body !== undefined ? { body } : {}),
      });
      return { status: response.status, allow: response.headers.get('allow'), body: (await response.json()) as unknown };
    };

    expect(await send('GET', '/nothing/here')).toEqual({
      status: 404,
      allow: null,
      body: { status: 'error', message: 'no endpoint at /nothing/here' },
    });
    expect(await send('GET', PUSH)).toEqual({
      status: 405,
      allow: 'POST',
      body: { status: 'error', message: `${PUSH} accepts POST, not GET` },
    });
    expect(await send('POST', STATUS, '{}')).toMatchObject({ status: 405, allow: 'GET' });
    expect(await send('POST', PUSH, '{"records": [')).toMatchObject({
      status: 400,
      body: { status: 'error', message: expect.stringMatching(/^body is not JSON: /) },
    });
    expect(await send('POST', PUSH, '[]')).toMatchObject({ status: 400, body: { message: 'body must be a JSON object' } });
    expect(await send('POST', PUSH, JSON.stringify({ records: [{ id: 1 }, { name: 'no id' }] }))).toMatchObject({
      status: 400,
      body: { message: 'records[1].id must be a number or a non-empty string' },
    });
    expect(await send('POST', PULL, JSON.stringify({ ids: [1, null] }))).toMatchObject({
      status: 400,
      body: { message: 'ids[1] must be a number or a non-empty string' },
    });
    expect(await send('POST', PUSH, JSON.stringify({ records: [{ id: 5, pad: 'x'.repeat(2_000) }] }))).toEqual({
      status: 413,
      allow: null,
      body: { status: 'error', message: 'request body is larger than 1000 bytes' },
    });

    // None of the refused batches was stored: the first record processed is the next good one.
    await push(client, [{ id: 6 }]);
    await waitFor(async () => (await lastProcessedId(client)) === 6, 'record 6');
    expect(seen).toEqual([6]);
  });

  it('serves the paths a protocol sets', async () => {
    const { process } = recordingProcess();
    const { client } = await start({
      protocols: { deliveries: { process, paths: { push: '/in', status: '/state', pull: '/out' } } },
    });

    expect(await push(client, [{ id: 1 }], '/in')).toMatchObject({ ok: true });
    await waitFor(async () => (await lastProcessedId(client, '/state')) === 1, 'record 1');
    expect(await pull(client, [1], '/out')).toEqual([{ id: 1, hash: hashOf({ id: 1 }) }]);
    expect(await client.get(STATUS)).toMatchObject({ ok: false, error: expect.stringMatching(/^HTTP 404: /) });
  });

  it('serves https with the key and certificate it is given', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'workmesh-micro-tls-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const [keyFile, certFile] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-keyout',
        keyFile,
        '-out',
        certFile,
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    const node = createMicroNode({
      apiKey: API_KEY,
      dataFile: tempDataFile(),
      protocols: { deliveries: { process: recordingProcess().process } },
      tls: { key: readFileSync(keyFile), cert: readFileSync(certFile) },
    });
    cleanups.push(() => node.close());
    const { url } = await node.listen(0);
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const client = createHttpTransport({ name: 'n', url, apiKey: API_KEY, services: {}, tls: { ca: certFile } });
    cleanups.push(() => client.close());

    expect(await push(client, [{ id: 1 }])).toMatchObject({ ok: true });
    await waitFor(async () => (await lastProcessedId(client)) === 1, 'record 1');
  });

  describe('validate', () => {
    it('stores the records it accepts and answers the ones it rejects, which are never processed', async () => {
      const { process, seen } = recordingProcess();
      const { client } = await start({
        protocols: {
          deliveries: {
            validate: (record) => (typeof record.subject !== 'string' ? 'subject must be a string' : undefined),
            process,
          },
        },
      });

      const answer = await push(client, [{ id: 1, subject: 'a' }, { id: 2, subject: 7 }, { id: 3, subject: 'c' }, { id: 4 }]);

      expect(answer).toEqual({
        ok: true,
        body: {
          status: 'success',
          stored: 2,
          rejected: [
            { id: 2, error: 'subject must be a string' },
            { id: 4, error: 'subject must be a string' },
          ],
        },
      });
      await waitFor(async () => (await lastProcessedId(client)) === 3, 'records 1 and 3');
      expect(seen).toEqual([1, 3]);
      expect(await pull(client, [1, 2, 3, 4])).toEqual([
        { id: 1, hash: hashOf({ id: 1, subject: 'a' }) },
        { id: 3, hash: hashOf({ id: 3, subject: 'c' }) },
      ]);

      // Sent again, fixed, a rejected record is stored like any other.
      expect(await push(client, [{ id: 2, subject: 'b' }])).toEqual({ ok: true, body: { status: 'success', stored: 1 } });
      await waitFor(async () => (await lastProcessedId(client)) === 2, 'record 2');
      expect(seen).toEqual([1, 3, 2]);
    });

    it('rejects with the message of a throw, awaits an async check, and words an empty text', async () => {
      const { process } = recordingProcess();
      const { client } = await start({
        protocols: {
          deliveries: {
            validate: async (record) => {
              await new Promise((resolve) => setTimeout(resolve, 1));
              if (record.id === 1) throw new Error('payload is not base64');
              if (record.id === 2) return '';
              return undefined;
            },
            process,
          },
        },
      });

      expect(await push(client, [{ id: 1 }, { id: 2 }, { id: 3 }])).toEqual({
        ok: true,
        body: {
          status: 'success',
          stored: 1,
          rejected: [
            { id: 1, error: 'payload is not base64' },
            { id: 2, error: 'rejected by validate' },
          ],
        },
      });
    });

    it('does not check a record it already holds again, and refuses every copy of a rejected id in a batch', async () => {
      const { process } = recordingProcess();
      let refuseAll = false;
      const checked: unknown[] = [];
      const { client } = await start({
        protocols: {
          deliveries: {
            validate: (record) => {
              checked.push(record.id);
              if (refuseAll || record.bad === true) return 'refused';
              return undefined;
            },
            process,
          },
        },
      });
      expect(await push(client, [{ id: 1 }])).toMatchObject({ ok: true, body: { stored: 1 } });

      refuseAll = true;
      checked.length = 0;
      // Record 1 is held: its re-push is a no-op, not a rejection.
      expect(await push(client, [{ id: 1 }, { id: '2' }])).toEqual({
        ok: true,
        body: { status: 'success', stored: 0, rejected: [{ id: '2', error: 'refused' }] },
      });
      expect(checked).toEqual(['2']);

      refuseAll = false;
      checked.length = 0;
      expect(await push(client, [{ id: 5, bad: true }, { id: 5 }, { id: 6 }, { id: 7 }, { id: 7, bad: true }])).toEqual({
        ok: true,
        body: { status: 'success', stored: 2, rejected: [{ id: 5, error: 'refused' }] },
      });
      // Only the first copy of an id is checked: the one the node would keep.
      expect(checked).toEqual([5, 6, 7]);
      await waitFor(async () => (await lastProcessedId(client)) === 7, 'records 6 and 7');
      expect(await pull(client, [5])).toEqual([]);
    });

    it('answers a push with no rejected key when nothing was refused, as a v1 node does', async () => {
      const { process } = recordingProcess();
      const { client } = await start({ protocols: { deliveries: { validate: () => undefined, process } } });

      expect(await push(client, [{ id: 1 }])).toEqual({ ok: true, body: { status: 'success', stored: 1 } });
    });
  });

  it('refuses options it cannot serve', () => {
    const dataFile = tempDataFile();
    const process = async (): Promise<Record<string, unknown>> => ({});
    expect(() => createMicroNode({ apiKey: undefined, dataFile, protocols: { d: { process } } })).toThrow(/apiKey is required/);
    expect(() => createMicroNode({ apiKey: 'k', dataFile, protocols: {} })).toThrow(/at least one protocol/);
    expect(() =>
      createMicroNode({ apiKey: 'k', dataFile, protocols: { a: { process }, b: { process, paths: { push: '/api/1.0/a/pull.json' } } } }),
    ).toThrow(/already the pull path of a/);
  });
});

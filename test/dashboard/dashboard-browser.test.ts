import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readNodeHealth } from '../../src/health/node-health.js';
import { packageFile } from '../../src/package-files.js';
import { ensureNodeFailing } from '../helpers/node-health-rows.js';
import {
  createSaasDatabase,
  insertAccounts,
  insertRecords,
  mesh,
  range,
  readFlags,
  scrambledRecords,
  spawnMesh,
  waitUntil,
  writeMeshConfig,
  type MeshProcess,
  type SaasDatabase,
} from '../helpers/mesh-fixture.js';
import { startNodeProcesses, type NodeProcesses } from '../helpers/node-processes.js';
import { RecordingProxy } from '../helpers/recording-proxy.js';
import { DIALECTS } from '../helpers/test-databases.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];
const PROTOCOL = 'deliveries';
const TOKEN = 'test-dashboard-token-8f2c1e';
/** The page's polling interval in these tests. */
const REFRESH_MS = 1000;
/**
 * The README's picture of the overview, made by this test: rewritten in the
 * repository with WORKMESH_UPDATE_SCREENSHOT=1, else made in a temp folder
 * (a plain `npm test` leaves the work tree as it was).
 */
const SCREENSHOT = process.env.WORKMESH_UPDATE_SCREENSHOT
  ? packageFile('docs/dashboard-overview.png')
  : join(mkdtempSync(join(tmpdir(), 'workmesh-screenshot-')), 'dashboard-overview.png');

interface NodeRow {
  name: string;
  pending: number;
  failed: number;
  processed: number;
}

let browser: Browser | undefined;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
});

afterAll(async () => {
  await browser?.close();
});

afterEach(async () => {
  const failures: unknown[] = [];
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((error: unknown) => failures.push(error));
  if (failures.length > 0) throw failures[0];
});

interface Setup {
  saas: SaasDatabase;
  nodes: NodeProcesses;
  /** proxies[i] stands in front of node i + 1: mesh reaches the nodes through them. */
  proxies: RecordingProxy[];
  args: string[];
}

/**
 * Two real kit nodes (each behind a recording proxy, which can refuse chosen
 * records as a node would), a SaaS database with 6 accounts and 60 records,
 * migrated, assigned, pushed and pulled through the real mesh; then 24 newer
 * records, pending.
 */
async function setUp(dialect: (typeof DIALECTS)[number]['name']): Promise<Setup> {
  const nodes = await startNodeProcesses(2, { protocols: [PROTOCOL] });
  cleanups.push(() => nodes.stop());
  const proxies: RecordingProxy[] = [];
  for (const node of nodes.nodes) {
    const proxy = await RecordingProxy.start({ target: node.url });
    cleanups.push(() => proxy.close());
    proxies.push(proxy);
  }
  const saas = await createSaasDatabase(dialect);
  cleanups.push(() => saas.cleanup());
  const dir = mkdtempSync(join(tmpdir(), 'workmesh-dashboard-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  const args = [
    '--db',
    saas.url,
    ...writeMeshConfig(dir, {
      protocol: PROTOCOL,
      nodes: nodes.nodes.map((n, i) => ({ name: n.name, url: proxies[i]!.url, apiKey: n.apiKey, timeoutMs: 5_000 })),
      batchSize: 10,
      maxAttempts: 1,
    }),
  ];
  await insertAccounts(saas.database, range(1, 6));
  await insertRecords(saas.database, scrambledRecords({ from: 1, to: 60, accounts: 6 }));
  for (const command of [['migrate'], ['assign'], ['push']]) ok(await mesh([...command, ...args]));
  await waitUntil(async () => {
    ok(await mesh(['pull', ...args]));
    return (await cliNodes(args)).every((n) => n.pending === 0);
  }, 'every pushed record pulled');
  // Newer records, two minutes old, not pushed yet: the lag the page shows.
  await insertRecords(
    saas.database,
    scrambledRecords({ from: 61, to: 84, accounts: 6, offsetMs: Date.now() - Date.UTC(2024, 0, 1) - 120_000 }),
  );
  return { saas, nodes, proxies, args };
}

function ok(run: { code: number; stdout: string; stderr: string }): void {
  if (run.code !== 0) throw new Error(`mesh exited ${run.code}\n${run.stdout}\n${run.stderr}`);
}

async function cliNodes(args: string[]): Promise<NodeRow[]> {
  const run = await mesh(['--nodes', '--json', ...args]);
  ok(run);
  return (JSON.parse(run.stdout) as NodeRow[]).map(({ name, pending, failed, processed }) => ({ name, pending, failed, processed }));
}

/** `mesh dashboard --port 0`, its address read from the line it prints. */
async function startDashboard(args: string[], env: Record<string, string>): Promise<{ url: string; process: MeshProcess }> {
  const child = spawnMesh(['dashboard', '--port', '0', ...args], env, { timeoutMs: 600_000 });
  cleanups.push(async () => {
    child.child.kill('SIGTERM');
    await child.done;
  });
  await waitUntil(() => /^dashboard: (http:\S+)/m.test(child.stdout()) || child.child.exitCode !== null, 'the dashboard to listen', 30_000);
  const url = /^dashboard: (http:\S+)/m.exec(child.stdout())?.[1];
  if (url === undefined) throw new Error(`mesh dashboard did not start:\n${child.stdout()}\n${child.stderr()}`);
  return { url, process: child };
}

async function openPage(url: string, query = ''): Promise<Page> {
  const context = await browser!.newContext({ viewport: { width: 1280, height: 860 } });
  cleanups.push(() => context.close());
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('response', (response) => {
    if (response.status() === 404) errors.push(`404 ${response.url()}`);
  });
  page.on('console', (message) => {
    // A refused action's 401 is logged by Chromium as a failed load: expected, the page shows it.
    if (message.type() === 'error' && !/^Failed to load resource: .* 40[134]/.test(message.text())) errors.push(message.text());
  });
  cleanups.push(async () => expect(errors).toEqual([]));
  await page.goto(`${url}?refresh=${REFRESH_MS}${query}#/overview`);
  return page;
}

/** The nodes table as the page shows it. */
async function pageNodes(page: Page): Promise<(NodeRow & { health: string })[]> {
  return page.$$eval('#nodes tr[data-node]', (rows) =>
    rows.map((row) => {
      const field = (name: string) => row.querySelector(`[data-field="${name}"]`)?.textContent ?? '';
      const number = (name: string) => Number(field(name).replace(/,/g, ''));
      return {
        name: row.getAttribute('data-node') ?? '',
        pending: number('pending'),
        failed: number('failed'),
        processed: number('processed'),
        health: row.querySelector('[data-health]')?.getAttribute('data-health') ?? '',
      };
    }),
  );
}

/** Waits for a refresh of the page that started after `since` (epoch ms). */
async function refreshAfter(page: Page, since: number): Promise<void> {
  const refreshedAt = (t: number) =>
    Number((globalThis as unknown as { document: { body: { dataset: Record<string, string> } } }).document.body.dataset.refreshedAt ?? 0) >
    t;
  await page.waitForFunction(refreshedAt, since, { timeout: 30_000 });
}

/** The workmesh_records samples of a text exposition, as `node state` → value summed over protocols. */
function recordSamples(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^workmesh_records\{(.*)\} (\S+)$/.exec(line);
    if (!match) continue;
    const labels = Object.fromEntries([...match[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    const key = `${labels.node} ${labels.state}`;
    samples.set(key, (samples.get(key) ?? 0) + Number(match[2]));
  }
  return samples;
}

/** fetch() sets Host itself: a request with another Host, as a browser sends after DNS rebinding. */
function statusWithHost(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { headers: { host } }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('error', reject);
    request.end();
  });
}

function cliSamples(rows: NodeRow[]): Map<string, number> {
  const samples = new Map<string, number>();
  for (const row of rows) for (const state of ['pending', 'failed', 'processed'] as const) samples.set(`${row.name} ${state}`, row[state]);
  return samples;
}

for (const dialect of DIALECTS) {
  describe.skipIf(!dialect.available)(`mesh dashboard in Chromium on ${dialect.name}`, () => {
    it('shows the CLI counts, a node going down within one refresh, retries a dead record with the token only', async () => {
      const { saas, nodes, proxies, args } = await setUp(dialect.name);
      const { url } = await startDashboard(args, { WORKMESH_DASHBOARD_TOKEN: TOKEN });
      const page = await openPage(url);

      // The overview shows the counts mesh --nodes gives.
      await page.waitForSelector('#nodes tr[data-node="node2"]');
      const expected = await cliNodes(args);
      expect(expected.reduce((n, r) => n + r.pending, 0)).toBe(24);
      const shown = await pageNodes(page);
      expect(shown.map(({ health: _h, ...row }) => row)).toEqual(expected);
      expect(shown.map((r) => r.health)).toEqual(['ok', 'ok']);
      const service = await page.$eval('#services tr[data-service] [data-field="pending"]', (el) => el.textContent);
      expect(service).toBe('24');
      expect(await page.locator('#throughput canvas').count()).toBeGreaterThan(0);
      // The oldest pending record was made two minutes (less at most 49 s) ago.
      const lagText = await page.$eval('#nodes tr[data-node="node1"] [data-field="lag"]', (el) => el.textContent ?? '');
      const [amount, unit] = lagText.split(' ');
      expect(Number(amount) * (unit === 'min' ? 60 : unit === 's' ? 1 : NaN)).toBeGreaterThanOrEqual(60);

      // node1 refuses three of its records (HTTP 422, the records' fault: with maxAttempts 1 they die at once);
      // node2 goes down, so the next push fails there by the node's fault.
      const poison = new Set([61, 65, 69]);
      proxies[0]!.fault = (request) =>
        request.endpoint === 'push' && request.ids.some((id) => poison.has(Number(id)))
          ? { kind: 'answer', status: 422, body: JSON.stringify({ status: 'error', error: 'unreadable payload' }) }
          : undefined;
      await nodes.kill('node2');
      const pushed = await mesh(['push', ...args]);
      expect(pushed.code).toBe(1);
      const dead = [...(await readFlags(saas.database, PROTOCOL)).entries()].filter(([, f]) => f.pushSuccess === false).map(([id]) => id);
      expect(dead).toEqual(expect.arrayContaining([...poison]));
      const failure = await saas.database.db
        .selectFrom('workmesh_stream_history')
        .select('error')
        .where('node', '=', 'node2')
        .where('error', 'is not', null)
        .executeTakeFirstOrThrow();
      const health = await ensureNodeFailing(saas.database, 'node2', String(failure.error));
      const wroteAt = Date.now();
      await refreshAfter(page, wroteAt);
      const afterDown = await pageNodes(page);
      const node2 = afterDown.find((r) => r.name === 'node2')!;
      expect(node2.health).toBe(health.nextTryAt !== null && health.nextTryAt > Date.now() ? 'backoff' : 'failing');
      expect(afterDown.find((r) => r.name === 'node1')!.health).toBe('ok');
      const afterCli = await cliNodes(args);
      // node1's rejected records are failed (dead); node2's stay pending: its outage is the node's fault (node contract v1.1).
      expect(afterCli.find((r) => r.name === 'node1')!.failed).toBe(poison.size);
      expect(afterCli.find((r) => r.name === 'node2')!.failed).toBe(0);
      await refreshAfter(page, Date.now());
      expect((await pageNodes(page)).map(({ health: _h, ...row }) => row)).toEqual(afterCli);

      if (dialect.name === 'sqlite') {
        mkdirSync(packageFile('docs'), { recursive: true });
        await page.screenshot({ path: SCREENSHOT, fullPage: true });
      }

      // /metrics gives the counts the CLI gives, and so does mesh metrics.
      const metrics = await (await fetch(`${url}metrics`)).text();
      expect(recordSamples(metrics)).toEqual(cliSamples(afterCli));
      expect(metrics).toMatch(/^workmesh_node_up\{node="node2"\} 0$/m);
      expect(metrics).toMatch(/^workmesh_node_up\{node="node1"\} 1$/m);
      const lag = /^workmesh_lag_seconds\{service="micro\.emails\.timeline",protocol="deliveries",node="node1"\} (\S+)$/m.exec(metrics);
      expect(Number(lag?.[1])).toBeGreaterThan(60);
      expect(metrics).toMatch(
        /^workmesh_records_pushed_total\{service="micro\.emails\.timeline",protocol="deliveries",node="node1"\} [1-9]\d*$/m,
      );
      const printed = await mesh(['metrics', ...args]);
      ok(printed);
      expect(recordSamples(printed.stdout)).toEqual(cliSamples(afterCli));

      // Failed records, dead only: retrying without the token is refused and changes nothing.
      await page.goto(`${url}?refresh=${REFRESH_MS}#/failed?state=dead`);
      await page.waitForSelector('#failed tr[data-state="dead"]');
      const firstId = Number(await page.getAttribute('#failed tr[data-state="dead"]', 'data-id'));
      await page.click('#failed tr[data-state="dead"] button.retry-one');
      await page.waitForSelector('#message.error');
      expect(await page.textContent('#message')).toMatch(/refused: this action needs the dashboard token/);
      expect((await readFlags(saas.database, PROTOCOL)).get(firstId)!.pushSuccess).toBe(false);

      // With the token: that record is pending again in the database.
      await page.fill('#token', TOKEN);
      await page.click(`#failed tr[data-id="${firstId}"] button.retry-one`);
      await page.waitForSelector('#message.info');
      expect(await page.textContent('#message')).toContain('1 record pending again');
      // The list is read again after the retry: the record, no longer dead, leaves it.
      await page.waitForSelector(`#failed tr[data-id="${firstId}"]`, { state: 'detached' });
      const revived = (await readFlags(saas.database, PROTOCOL)).get(firstId)!;
      expect([revived.pushSuccess, revived.pushError, revived.pushAttempts]).toEqual([null, null, 0]);

      // Two selected at once, then all dead of the filter.
      const boxes = page.locator('#failed input[type="checkbox"]');
      const deadRows = page.locator('#failed tr[data-state="dead"]');
      const selectedIds = [Number(await deadRows.nth(0).getAttribute('data-id')), Number(await deadRows.nth(1).getAttribute('data-id'))];
      await boxes.nth(0).check();
      await boxes.nth(1).check();
      expect(selectedIds).not.toContain(firstId);
      await page.click('#retry-selected');
      await waitUntil(async () => {
        const flags = await readFlags(saas.database, PROTOCOL);
        return selectedIds.every((id) => flags.get(id)!.pushSuccess === null);
      }, 'the selected records pending');
      await page.click('#retry-all-dead');
      await waitUntil(
        async () => [...(await readFlags(saas.database, PROTOCOL)).values()].every((f) => f.pushSuccess !== false),
        'no dead record left',
      );
    }, 240_000);

    it('the node view, the entity lookup and the runs show what the database holds, paged', async () => {
      const { saas, args } = await setUp(dialect.name);
      const { url } = await startDashboard(args, {});
      const page = await openPage(url, '&pageSize=2');
      await page.click('#nodes tr[data-node="node1"] a');
      await page.waitForSelector('#streams tr td[data-field="pending"]');
      const cli = (await cliNodes(args)).find((n) => n.name === 'node1')!;
      const stream = await page.$$eval('#streams tr td[data-field]', (cells) =>
        cells.map((c) => Number((c.textContent ?? '').replace(/,/g, ''))),
      );
      expect(stream).toEqual([cli.pending, cli.failed, cli.processed]);
      const history = await saas.database.db.selectFrom('workmesh_stream_history').select('node').where('node', '=', 'node1').execute();
      expect(await page.locator('#node-runs tr').count()).toBe(1 + Math.min(20, history.length));
      // Round-robin: accounts 1, 3, 5 on node1, two a page here.
      const entities = async () => page.$$eval('#entities tr td:nth-child(2)', (cells) => cells.map((c) => c.textContent));
      expect(await entities()).toEqual(['1', '3']);
      expect(await page.textContent('[data-field="page"]')).toBe('page 1 of 2 (3)');
      await page.click('.pager button:text("next")');
      await page.waitForFunction(() => (globalThis as unknown as { location: { hash: string } }).location.hash.includes('offset=2'));
      await page.waitForSelector('[data-field="page"]:text-is("page 2 of 2 (3)")');
      expect(await entities()).toEqual(['5']);
      await page.goto(`${url}?refresh=${REFRESH_MS}&pageSize=50#/node/node1`);
      await page.waitForSelector('#entities tr td');

      // The entity lookup from the node's entity list: account 3's records, 14 of them, in pages of 50.
      await page.click('#entities a:text-is("3")');
      await page.waitForSelector('#entity-records tr td');
      const status = await mesh(['status', '--service', 'micro.emails.timeline', '--entity', '3', '--json', ...args]);
      ok(status);
      const expected = (JSON.parse(status.stdout) as { protocols: { pending: number; failed: number; processed: number }[] }).protocols[0]!;
      const counts = await page.$$eval('#entity-protocols tr td[data-field]', (cells) => cells.map((c) => Number(c.textContent)));
      expect(counts).toEqual([expected.pending, expected.failed, expected.processed]);
      const states = await page.$$eval('#entity-records tr td:nth-child(2)', (cells) => cells.map((c) => c.textContent));
      expect(states.filter((s) => s === 'processed').length).toBe(expected.processed);
      expect(states.filter((s) => s === 'pending').length).toBe(expected.pending);

      // Runs: every push and pull the setup ran, newest first.
      await page.click('nav a[data-view="runs"]');
      await page.waitForSelector('#runs tr td');
      const shown = await page.$$eval('#runs tr', (rows) => rows.slice(1).map((r) => r.children[1]?.textContent));
      const logged = await saas.database.db.selectFrom('workmesh_run').select('command').orderBy('started_at', 'desc').execute();
      expect(shown).toEqual(logged.map((r) => r.command));
      expect(shown).toContain('push');
      expect(shown).toContain('pull');
    }, 240_000);

    it('refuses actions without the token, across origins, or not as JSON; a non-loopback host without a token is exit 2', async () => {
      const { saas, args } = await setUp(dialect.name);
      const { url } = await startDashboard(args, { WORKMESH_DASHBOARD_TOKEN: TOKEN });
      const post = (headers: Record<string, string>, body = JSON.stringify({ allDead: true })) =>
        fetch(`${url}api/retry`, { method: 'POST', headers, body });
      const json = { 'content-type': 'application/json' };
      expect((await post(json)).status).toBe(401);
      expect((await post({ ...json, 'x-workmesh-token': 'wrong' })).status).toBe(401);
      expect((await post({ 'content-type': 'text/plain', 'x-workmesh-token': TOKEN })).status).toBe(415);
      expect((await post({ ...json, 'x-workmesh-token': TOKEN, origin: 'http://evil.example' })).status).toBe(403);
      expect((await post({ ...json, 'x-workmesh-token': TOKEN, 'sec-fetch-site': 'cross-site' })).status).toBe(403);
      // A page of another site reading through a rebound name is refused too.
      expect(await statusWithHost(`${url}api/overview`, 'evil.example')).toBe(421);
      expect(await statusWithHost(`${url}api/overview`, `localhost:${new URL(url).port}`)).toBe(200);
      const accepted = await post({ ...json, 'x-workmesh-token': TOKEN, origin: url.replace(/\/$/, '') });
      expect(accepted.status).toBe(200);
      expect(await accepted.json()).toMatchObject({ revived: 0 });

      // Without WORKMESH_DASHBOARD_TOKEN the dashboard only reads.
      const readOnly = await startDashboard(args, {});
      const refused = await fetch(`${readOnly.url}api/retry`, {
        method: 'POST',
        headers: { ...json, 'x-workmesh-token': TOKEN },
        body: '{}',
      });
      expect(refused.status).toBe(403);
      expect((await fetch(`${readOnly.url}api/overview`)).status).toBe(200);

      const exposed = await mesh(['dashboard', '--host', '0.0.0.0', '--port', '0', ...args]);
      expect(exposed.code).toBe(2);
      expect(exposed.stderr).toMatch(/--host 0\.0\.0\.0 is not a loopback address: set WORKMESH_DASHBOARD_TOKEN/);
      const badPort = await mesh(['dashboard', '--port', '80x', ...args]);
      expect([badPort.code, badPort.stderr]).toEqual([
        2,
        'mesh: --port must be a whole number from 0 to 65535, in decimal digits (got "80x")\n',
      ]);
      // The refused requests called no node: every node is as healthy as the set-up's pushes left it.
      for (const health of (await readNodeHealth(saas.database.db)).values())
        expect(health).toMatchObject({ failingSince: null, failures: 0 });
    }, 240_000);
  });
}

import { describe, expect, it } from 'vitest';
import type { Db } from '../../src/config/service-config.js';
import { compareIds, FlagWriteGroup, smallestId } from '../../src/stream/flag-write-group.js';

/** A Db that only runs transactions: each is numbered, and what ran in it is recorded with its number. */
function countingDb(fail?: (trx: number, writes: string[]) => boolean) {
  let transactions = 0;
  const ran: { trx: number; write: string }[] = [];
  const db = {
    transaction: () => ({
      execute: async (work: (trx: unknown) => Promise<unknown>) => {
        const trx = ++transactions;
        const writes: string[] = [];
        const result = await work({ trx, writes });
        if (fail?.(trx, writes)) throw new Error(`transaction ${trx} refused`);
        for (const write of writes) ran.push({ trx, write });
        return result;
      },
    }),
  } as unknown as Db;
  const write = (name: string, rows: number) => async (trx: Db) => {
    (trx as unknown as { writes: string[] }).writes.push(name);
    return rows;
  };
  return { db, ran, write, transactions: () => transactions };
}

/** A group whose parts are strings, joined by `together` (each part's result: its length) up to 250 rows, or when `scattered`. */
function joiningGroup(db: Db, scattered?: (part: string) => boolean) {
  const together: string[][] = [];
  const group = new FlagWriteGroup<string, number>({
    db,
    minRows: 1_000,
    answersExpected: () => false,
    togetherUpTo: 250,
    ...(scattered && { scattered }),
    together: async (trx, parts) => {
      together.push(parts);
      (trx as unknown as { writes: string[] }).writes.push('together');
      return parts.map((part) => part.length);
    },
  });
  return { group, together };
}

describe('FlagWriteGroup', () => {
  it('writes the batches answered together, whatever their nodes, in one transaction, in the order of their smallest id', async () => {
    const { db, ran, write, transactions } = countingDb();
    let inFlight = 3;
    const group = new FlagWriteGroup({ db, minRows: 1_000, answersExpected: () => inFlight > 0 });
    const answers = [
      { node: 'node3', ids: [30, 7, 31] },
      { node: 'node1', ids: [10, 11] },
      { node: 'node2', ids: [2, 40] },
    ].map(({ node, ids }) => {
      inFlight--;
      return group.write(smallestId(ids), ids.length, write(node, ids.length));
    });
    expect(await Promise.all(answers)).toEqual([3, 2, 2]);
    expect(transactions()).toBe(1);
    expect(ran.map((r) => r.write)).toEqual(['node2', 'node3', 'node1']);
  });

  it('writes at once when the group holds a full batch, or when no answer is on its way', async () => {
    const { db, ran, write } = countingDb();
    const full = new FlagWriteGroup({ db, minRows: 2, answersExpected: () => true });
    await Promise.all([full.write(1, 1, write('a', 1)), full.write(2, 1, write('b', 1))]);
    const idle = new FlagWriteGroup({ db, minRows: 1_000, answersExpected: () => false });
    const started = Date.now();
    await idle.write(3, 1, write('c', 1));
    // Neither waited out the gathering time.
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(ran.map((r) => r.trx)).toEqual([1, 1, 2]);
  });

  it('keeps a group open while answers keep coming, closes it when they stop, and after maxGroupMs whatever comes', async () => {
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    /** `count` answers, one every `everyMs`, then one more after `pauseMs` of silence; the transaction each went in. */
    const answer = async (props: { gatherMs: number; maxGroupMs: number; count: number; everyMs: number; pauseMs: number }) => {
      const { db, ran, write } = countingDb();
      const group = new FlagWriteGroup({ db, minRows: 1_000_000, answersExpected: () => true, ...props });
      const writes: Promise<number>[] = [];
      for (let i = 1; i <= props.count; i++) {
        writes.push(group.write(i, 1, write(`a${i}`, 1)));
        await sleep(props.everyMs);
      }
      await sleep(props.pauseMs);
      writes.push(group.write(props.count + 1, 1, write('late', 1)));
      await Promise.all(writes);
      return ran.map((r) => r.trx);
    };
    // 15 answers 30 ms apart (450 ms in all) with 300 ms for the next one: one group; then silence, then another.
    const kept = await answer({ gatherMs: 300, maxGroupMs: 60_000, count: 15, everyMs: 30, pauseMs: 900 });
    expect(kept).toEqual([...Array<number>(15).fill(1), 2]);
    // The same answers, but a group gathers for 150 ms at most: it is written while they still come.
    const capped = await answer({ gatherMs: 300, maxGroupMs: 150, count: 15, everyMs: 30, pauseMs: 0 });
    expect(new Set(capped).size).toBeGreaterThan(2);
  });

  it('when a group fails, writes each of its batches again alone: only the batch at fault fails', async () => {
    const { db, ran, write } = countingDb((_trx, writes) => writes.includes('bad'));
    const group = new FlagWriteGroup({ db, minRows: 3, answersExpected: () => true });
    const results = await Promise.allSettled([
      group.write(1, 1, write('good1', 1)),
      group.write(2, 1, write('bad', 1)),
      group.write(3, 1, write('good2', 1)),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    // Transaction 1 (the group) was refused; then one each.
    expect(ran).toEqual([
      { trx: 2, write: 'good1' },
      { trx: 4, write: 'good2' },
    ]);
  });

  it('orders numeric ids by value and others by their text', () => {
    expect([10, 9, 100].sort(compareIds)).toEqual([9, 10, 100]);
    expect(['b', 'a10', 'a9'].sort(compareIds)).toEqual(['a10', 'a9', 'b']);
    expect(smallestId([5n, 3n, 4n])).toBe(3n);
  });

  it('writes the small parts of a group together, and each larger one by its own work, in the same transaction', async () => {
    const { db, ran, write, transactions } = countingDb();
    const { group, together } = joiningGroup(db);
    const results = await Promise.all([
      group.writePart(5, 2, 'ab', write('alone-a', -1)),
      group.writePart(1, 600, 'full', write('full', 600)),
      group.writePart(9, 3, 'cde', write('alone-c', -1)),
    ]);
    // The small parts' results come from `together`, the full batch's from its own work.
    expect(results).toEqual([2, 600, 3]);
    expect(together).toEqual([['ab', 'cde']]);
    expect(transactions()).toBe(1);
    expect(ran.map((r) => r.write).sort()).toEqual(['full', 'together']);
  });

  it('writes a full batch together with the others when its ids are scattered over the table', async () => {
    const { db, ran, write } = countingDb();
    const { group, together } = joiningGroup(db, (part) => part.startsWith('scattered'));
    await Promise.all([
      group.writePart(1, 500, 'scattered-full', write('alone-s', -1)),
      group.writePart(2, 500, 'dense-full', write('dense', 500)),
      group.writePart(3, 3, 'small', write('alone-small', -1)),
    ]);
    expect(together).toEqual([['scattered-full', 'small']]);
    expect(ran.map((r) => r.write).sort()).toEqual(['dense', 'together']);
  });

  it('writes a part it is told to write alone at once, in its own transaction, while a group gathers', async () => {
    const { db, ran, write } = countingDb();
    let answersExpected = true;
    const group = new FlagWriteGroup<string, number>({
      db,
      minRows: 1_000,
      answersExpected: () => answersExpected,
      // Long enough that only the alone path settles a write before the test lets the group close.
      gatherMs: 5_000,
      maxGroupMs: 5_000,
      alone: (rows) => rows >= 500,
    });
    let smallDone = false;
    const small = group.writePart(1, 3, 'small', write('small', 3)).then((rows) => ((smallDone = true), rows));
    expect(await group.writePart(2, 500, 'full', write('full', 500))).toBe(500);
    // The full part was written while the small one still waits for its group.
    expect(smallDone).toBe(false);
    expect(ran.map((r) => r.write)).toEqual(['full']);
    answersExpected = false;
    const last = group.writePart(3, 2, 'last', write('last', 2));
    expect(await Promise.all([small, last])).toEqual([3, 2]);
    const trxOf = (name: string) => ran.find((r) => r.write === name)!.trx;
    expect(trxOf('small')).toBe(trxOf('last'));
    expect(trxOf('full')).not.toBe(trxOf('small'));
  });
});

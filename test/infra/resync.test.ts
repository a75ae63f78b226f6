/** Reading bus-kept state again after an outage: what is heard during the read wins over the read. */
import { describe, expect, it } from 'vitest';
import { createResync } from '../../src/utils/resync.ts';

/** A read that answers when told to. */
function heldRead<T>() {
  let answer!: (value: T) => void;
  const read = new Promise<T>((resolve) => (answer = resolve));
  return { read: () => read, answer };
}

/** Two reads on their way at once: 'a' heard during the first only, 'b' during both. */
function twoReads() {
  const resync = createResync();
  const older = heldRead<string>();
  const newer = heldRead<string>();
  const applied: Array<[string, string[]]> = [];
  const apply = (value: string, heardMeanwhile: ReadonlySet<string>) => applied.push([value, [...heardMeanwhile].sort()]);
  const first = resync.run(older.read, apply);
  resync.heard('a');
  const second = resync.run(newer.read, apply);
  resync.heard('b');
  return { resync, older, newer, applied, first, second };
}

describe('createResync', () => {
  it('hands apply the keys heard while its read was on its way, and only those', async () => {
    const resync = createResync();
    resync.heard('before');
    const held = heldRead<string>();
    const applied: Array<[string, string[]]> = [];
    const running = resync.run(held.read, (value, heardMeanwhile) => applied.push([value, [...heardMeanwhile]]));
    resync.heard('during');
    held.answer('read');
    await running;
    resync.heard('after');
    expect(applied).toEqual([['read', ['during']]]);
  });

  it('two reads on their way at once: a key heard during both counts for both, and the older read answering last is not applied', async () => {
    const { older, newer, applied, first, second } = twoReads();
    newer.answer('newer');
    await second;
    older.answer('older');
    await first;
    expect(applied).toEqual([['newer', ['b']]]);
  });

  it('two reads answering in order are both applied, each with what was heard during it', async () => {
    const { resync, older, newer, applied, first, second } = twoReads();
    older.answer('older');
    await first;
    resync.heard('c');
    newer.answer('newer');
    await second;
    expect(applied).toEqual([
      ['older', ['a', 'b']],
      ['newer', ['b', 'c']],
    ]);
  });

  it('a read that fails applies nothing and stops collecting', async () => {
    const resync = createResync();
    const applied: string[] = [];
    await expect(resync.run(() => Promise.reject(new Error('store down')), (value: string) => applied.push(value))).rejects.toThrow('store down');
    const held = heldRead<string>();
    const running = resync.run(held.read, (value, heardMeanwhile) => applied.push(`${value}:${[...heardMeanwhile].join(',')}`));
    held.answer('again');
    await running;
    expect(applied).toEqual(['again:']);
  });
});

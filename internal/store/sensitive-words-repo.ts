// The run-time sensitive-word list: one row, replaced as a whole, with a version other nodes poll.
import type { Kysely, Transaction } from 'kysely';
import { FILTER_MODES, type WordList } from '../filter/filter.js';
import type { StoreDialect } from './dialect.js';
import type { Database } from './schema.js';
import type { StoredWordList } from './store.js';

const ROW = 'default';

export async function readWordList(db: Kysely<Database>): Promise<StoredWordList | undefined> {
  const row = await db.selectFrom('sensitive_words').selectAll().where('id', '=', ROW).executeTakeFirst();
  if (!row) return undefined;
  let words: unknown;
  try {
    words = JSON.parse(row.words);
  } catch (err) {
    throw new Error('sensitive_words.words is not valid JSON', { cause: err });
  }
  const mode = FILTER_MODES.find((m) => m === row.mode);
  if (!Array.isArray(words) || !words.every((w): w is string => typeof w === 'string') || !mode) {
    throw new Error('sensitive_words row does not hold a word list and a mode');
  }
  return { words, mode, version: Number(row.version) };
}

export async function readWordListVersion(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom('sensitive_words')
    .select('version')
    .where('id', '=', ROW)
    .executeTakeFirst();
  return row ? Number(row.version) : 0;
}

/** In the caller's transaction: the version moves by one per write, also when two nodes write at once. */
export async function writeWordList(
  trx: Transaction<Database>,
  dialect: StoreDialect,
  list: WordList,
): Promise<number> {
  const now = Date.now();
  await trx
    .insertInto('sensitive_words')
    .values({ id: ROW, words: '[]', mode: list.mode, version: 0, updated_at: now })
    .modifyEnd(dialect.ignoreDuplicates('id'))
    .execute();
  await trx
    .updateTable('sensitive_words')
    .set((eb) => ({
      words: JSON.stringify(list.words),
      mode: list.mode,
      version: eb('version', '+', 1),
      updated_at: now,
    }))
    .where('id', '=', ROW)
    .execute();
  const row = await trx
    .selectFrom('sensitive_words')
    .select('version')
    .where('id', '=', ROW)
    .executeTakeFirstOrThrow();
  return Number(row.version);
}

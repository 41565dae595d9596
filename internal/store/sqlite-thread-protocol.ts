// Messages between the store and its SQLite worker thread.

export interface Statement {
  sql: string;
  params: readonly unknown[];
}

export type ThreadRequest =
  | ({ id: number; op: 'query' } & Statement)
  | { id: number; op: 'transaction'; statements: Statement[] } // all or nothing, in one trip
  | { id: number; op: 'close' };

export type ThreadReply =
  | { id: number; ok: true; rows: unknown[]; changes?: number; lastInsertRowid?: bigint }
  | { id: number; ok: false; error: { message: string; code: string | undefined } };

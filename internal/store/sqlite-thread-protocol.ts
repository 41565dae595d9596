// Messages between the store and its SQLite worker thread.

export type ThreadRequest =
  { id: number; op: 'query'; sql: string; params: readonly unknown[] } | { id: number; op: 'close' };

export type ThreadReply =
  | { id: number; ok: true; rows: unknown[]; changes?: number; lastInsertRowid?: bigint }
  | { id: number; ok: false; error: { message: string; code: string | undefined } };

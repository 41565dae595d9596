import type { CourierApi } from './api.js';

// After a reconnect the client syncs every conversation it knows. A conversation that began while it was
// away (a first message pushed while the socket was down) is not among them, so the client also reads the
// conversation list (GET /v1/users/{uid}/conversations, most recent first) and picks the conversations with
// messages it has not seen, going back to when it lost the connection.

const PAGE = 50; // conversations per list page
const MAX_PAGES = 10; // a client away for long catches up on the most recent 500 conversations
const CLOCK_SLACK_MS = 5 * 60_000; // `since` is the client's clock, the list's times are the server's

export interface Discovered {
  conversation: string;
  /** Sync from here; for a conversation new to the client, its read seq (fromStart false) or 0. */
  after: number;
}

/**
 * Conversations with messages past what the client holds (`lastSeq`, undefined for unknown ones) whose
 * last activity is at or after `since` (ms). Rejects with the API's error when the list cannot be read.
 */
export async function changedSince(
  api: CourierApi,
  uid: string,
  since: number,
  lastSeq: (conversation: string) => number | undefined,
  fromStart: boolean,
): Promise<Discovered[]> {
  const found: Discovered[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const res = await api.conversations(
      uid,
      cursor === undefined ? { limit: PAGE } : { limit: PAGE, cursor },
    );
    let older = false;
    for (const c of res.conversations) {
      const last = c.lastMessage;
      if ((last?.ts ?? c.updatedAt) < since - CLOCK_SLACK_MS) older = true;
      if (!last) continue;
      const known = lastSeq(c.id);
      if (known === undefined) {
        found.push({ conversation: c.id, after: fromStart ? 0 : Math.max(0, last.seq - c.unread) });
      } else if (last.seq > known) {
        found.push({ conversation: c.id, after: known });
      }
    }
    if (older || !res.next) break;
    cursor = res.next;
  }
  return found;
}

import type { AgentLoad } from '../store/store.js';

// Which agent takes a customer's new conversation (or one whose agent left the pool). Pure, so the rule
// is tested on its own and the store can run it inside the transaction that holds the merchant's lock.

/** The conversation of one customer with one merchant; merchant ids and uids never contain ':'. */
export function customerServiceId(merchant: string, customer: string): string {
  return `cs:${merchant}:${customer}`;
}

/**
 * Among the agents under their maxSessions: the online ones if any (an offline agent is picked only when
 * nobody under the cap is online; the message waits for them), then the fewest open conversations, then
 * round-robin (`turn`) among equals. Null when every agent is at the cap.
 */
export function pickAgent(
  loads: readonly AgentLoad[],
  online: ReadonlySet<string>,
  turn: number,
): string | null {
  const open = loads.filter((a) => a.sessions < a.maxSessions);
  if (open.length === 0) return null;
  const present = open.filter((a) => online.has(a.uid));
  const candidates = present.length > 0 ? present : open;
  const fewest = Math.min(...candidates.map((a) => a.sessions));
  const tied = candidates.filter((a) => a.sessions === fewest);
  return (tied[turn % tied.length] as AgentLoad).uid;
}

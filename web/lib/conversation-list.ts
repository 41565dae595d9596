import type { ConversationSummary } from '../../internal/client/index.js';
import type { Message } from '../../internal/protocol/message.js';
import { preview } from './cards.js';
import { formatTime, h } from './dom.js';

// The agent's customers: one button per conversation with the customer, the last message and an unread
// badge, most recent first. Unread counts start from the server's (GET /v1/users/{uid}/conversations) and
// move with live messages; history synced in (seq at or below what the list already counted) never counts.

export interface Entry {
  id: string;
  peer: string;
  merchant: string | null;
  last: Message | null;
  unread: number;
  countedUpTo: number; // messages up to this seq are already in `unread`
  messages: Message[]; // in seq order
  peerRead: number;
}

export class ConversationList {
  readonly entries = new Map<string, Entry>();
  active: string | undefined;

  constructor(
    private readonly ul: HTMLUListElement,
    private readonly me: string,
    private readonly onSelect: (id: string) => void,
  ) {}

  /** Merges a fresh server list; returns the ids that are new here. Conversations no longer listed go. */
  merge(list: ConversationSummary[]): string[] {
    const added: string[] = [];
    const listed = new Set(list.map((c) => c.id));
    for (const id of this.entries.keys()) if (!listed.has(id) && id !== this.active) this.entries.delete(id);
    for (const c of list) {
      let e = this.entries.get(c.id);
      if (!e) {
        e = this.placeholder(c.id);
        added.push(c.id);
      }
      e.peer = c.peer ?? c.id;
      e.merchant = c.merchant;
      // The server counted up to its last message; live messages after that one are added on top.
      const listedSeq = c.lastMessage?.seq ?? 0;
      const newer = e.messages.filter((m) => m.seq > listedSeq && m.from !== this.me).length;
      e.unread = c.id === this.active ? 0 : c.unread + newer;
      e.countedUpTo = Math.max(e.countedUpTo, listedSeq);
      if (c.lastMessage && (!e.last || c.lastMessage.seq > e.last.seq)) e.last = c.lastMessage;
    }
    this.render();
    return added;
  }

  /** Files a message; true when it is new unread (from the customer, not in the open conversation). */
  add(m: Message, activeVisible: boolean): boolean {
    const me = this.me;
    const e =
      this.entries.get(m.conversation) ??
      this.placeholder(m.conversation, m.from === me ? undefined : m.from);
    const at = e.messages.findIndex((x) => x.seq > m.seq);
    if (at < 0) e.messages.push(m);
    else e.messages.splice(at, 0, m);
    if (!e.last || m.seq > e.last.seq) e.last = m;
    let unread = false;
    if (m.from !== me && m.seq > e.countedUpTo) {
      e.countedUpTo = m.seq;
      if (!(m.conversation === this.active && activeVisible)) {
        e.unread++;
        unread = true;
      }
    }
    this.render();
    return unread;
  }

  remove(id: string): void {
    this.entries.delete(id);
    if (this.active === id) this.active = undefined;
    this.render();
  }

  render(): void {
    const sorted = [...this.entries.values()].sort((a, b) => (b.last?.ts ?? 0) - (a.last?.ts ?? 0));
    this.ul.replaceChildren(
      ...sorted.map((e) => {
        const button = h(
          'button',
          {
            type: 'button',
            class: 'conversation',
            'data-conversation': e.id,
            'data-unread': e.unread,
            'aria-current': e.id === this.active ? 'true' : undefined,
          },
          h('span', { class: 'peer', text: e.peer }),
          e.unread > 0 &&
            h('span', { class: 'badge', 'aria-label': `${e.unread} unread`, text: String(e.unread) }),
          h('span', { class: 'preview', text: e.last ? preview(e.last) : 'No messages yet' }),
          e.last && h('time', { text: formatTime(e.last.ts) }),
        );
        button.addEventListener('click', () => this.onSelect(e.id));
        return h('li', {}, button);
      }),
    );
    if (sorted.length === 0) this.ul.append(h('li', { class: 'empty', text: 'No customers yet.' }));
  }

  private placeholder(id: string, peer?: string): Entry {
    const e: Entry = {
      id,
      peer: peer ?? id,
      merchant: null,
      last: null,
      unread: 0,
      countedUpTo: 0,
      messages: [],
      peerRead: 0,
    };
    this.entries.set(id, e);
    return e;
  }
}

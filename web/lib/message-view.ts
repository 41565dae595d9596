import type { Json, Message, MessageType } from '../../internal/protocol/message.js';
import { renderContent } from './cards.js';
import { formatTime, h } from './dom.js';

// A conversation's messages in an <ol role="log">: each message once (by id), placed by seq, with the
// sender's own messages marked "Sent" or "Read" from the peer's read receipts. Messages still on their way
// to the server sit at the end as "Sending…" until the client SDK reports them stored.

export class MessageView {
  private peerRead = 0;

  constructor(
    private readonly list: HTMLOListElement,
    private readonly me: string,
  ) {}

  clear(): void {
    this.list.replaceChildren();
    this.peerRead = 0;
  }

  add(message: Message, clientMsgId?: string): void {
    if (clientMsgId) this.pending(clientMsgId)?.remove();
    if (this.list.querySelector(`li[data-id="${CSS.escape(message.id)}"]`)) return;
    const mine = message.from === this.me;
    const li = h(
      'li',
      { class: `msg ${mine ? 'mine' : 'theirs'}`, 'data-id': message.id, 'data-seq': message.seq },
      h('div', { class: 'bubble' }, renderContent(message)),
      h(
        'p',
        { class: 'meta' },
        h('span', { class: 'who', text: mine ? 'You' : message.from }),
        ' · ',
        h('time', { datetime: new Date(message.ts).toISOString(), text: formatTime(message.ts) }),
        mine && h('span', { class: 'status', text: message.seq <= this.peerRead ? 'Read' : 'Sent' }),
      ),
    );
    // Usually the new message goes last; a late one (a filled gap, history) goes before the first higher seq.
    const after = [...this.list.querySelectorAll<HTMLLIElement>('li[data-seq]')].find(
      (el) => Number(el.dataset.seq) > message.seq,
    );
    const stick = this.nearBottom();
    this.list.insertBefore(li, after ?? this.list.querySelector('li.pending'));
    if (stick) this.scrollToEnd();
  }

  addPending(clientMsgId: string, type: MessageType, content: Json): void {
    const preview: Message = {
      id: '',
      conversation: '',
      seq: 0,
      from: this.me,
      to: [],
      type,
      content,
      ts: Date.now(),
    };
    this.list.append(
      h(
        'li',
        { class: 'msg mine pending', 'data-client-id': clientMsgId },
        h('div', { class: 'bubble' }, renderContent(preview)),
        h('p', { class: 'meta' }, h('span', { class: 'status', text: 'Sending…' })),
      ),
    );
    this.scrollToEnd();
  }

  /** The send was stored; its message is (or will be) rendered from the message event. */
  resolvePending(clientMsgId: string): void {
    this.pending(clientMsgId)?.remove();
  }

  failPending(clientMsgId: string, reason: string): void {
    const li = this.pending(clientMsgId);
    if (!li) return;
    li.classList.add('failed');
    const status = li.querySelector('.status');
    if (status) status.textContent = `Not sent: ${reason}`;
  }

  setPeerRead(seq: number): void {
    if (seq <= this.peerRead) return;
    this.peerRead = seq;
    for (const li of this.list.querySelectorAll<HTMLLIElement>('li.mine[data-seq]')) {
      const status = li.querySelector('.status');
      if (status && Number(li.dataset.seq) <= seq) status.textContent = 'Read';
    }
  }

  /** The highest seq shown from someone else, to mark as read. */
  lastTheirs(): number {
    const items = this.list.querySelectorAll<HTMLLIElement>('li.theirs[data-seq]');
    return items.length === 0 ? 0 : Math.max(...[...items].map((li) => Number(li.dataset.seq)));
  }

  private pending(clientMsgId: string): HTMLLIElement | null {
    return this.list.querySelector<HTMLLIElement>(`li.pending[data-client-id="${CSS.escape(clientMsgId)}"]`);
  }

  private nearBottom(): boolean {
    return this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 80;
  }

  private scrollToEnd(): void {
    this.list.scrollTop = this.list.scrollHeight;
  }
}

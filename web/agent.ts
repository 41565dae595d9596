import type { CourierClient } from '../internal/client/index.js';
import type { Json, Message, MessageType } from '../internal/protocol/message.js';
import { ConversationList } from './lib/conversation-list.js';
import { byId, h, submitOnEnter } from './lib/dom.js';
import { MessageView } from './lib/message-view.js';
import { cleanUid, demoInfo, showState, signIn, type DemoMerchant } from './lib/session.js';

// The agent console: the customers assigned to this agent with unread counts, one conversation open at a
// time, replies to the conversation, order cards, and hand-over to another agent of the same merchant.

const status = byId('status');
const loginForm = byId<HTMLFormElement>('login');
const agentSelect = byId<HTMLSelectElement>('agent');
const loginError = byId('login-error');
const consoleEl = byId('console');
const title = byId('thread-title');
const thread = byId('thread');
const composer = byId<HTMLFormElement>('composer');
const text = byId<HTMLTextAreaElement>('text');
const orderButton = byId<HTMLButtonElement>('send-order');
const transferForm = byId<HTMLFormElement>('transfer');
const transferSelect = byId<HTMLSelectElement>('transfer-to');
const notice = byId('notice');

let merchants: DemoMerchant[] = [];
demoInfo().then(
  (info) => {
    merchants = info.merchants;
    agentSelect.replaceChildren(
      ...merchants.flatMap((m) =>
        m.agents.map((uid) => h('option', { value: uid, 'data-merchant': m.id, text: `${uid} (${m.name})` })),
      ),
    );
    if (agentSelect.options.length === 0) loginError.textContent = 'No demo agents are configured.';
  },
  (err: unknown) => (loginError.textContent = `Demo sign-in is not available: ${String(err)}`),
);

loginForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const uid = cleanUid(agentSelect.value);
  if (!uid) return;
  start(uid).catch(
    (err: unknown) => (loginError.textContent = err instanceof Error ? err.message : String(err)),
  );
});

async function start(uid: string): Promise<void> {
  const client = await signIn(uid, 'agent');
  showState(client, status);
  loginForm.hidden = true;
  consoleEl.hidden = false;
  byId('me').textContent = uid;
  const agentConsole = new AgentConsole(client, uid);
  await agentConsole.refresh();
  await client.connect();
}

class AgentConsole {
  private readonly list: ConversationList;
  private readonly view: MessageView;
  private refreshing: Promise<void> | undefined;

  constructor(
    private readonly client: CourierClient,
    private readonly me: string,
  ) {
    this.view = new MessageView(byId<HTMLOListElement>('messages'), me);
    this.list = new ConversationList(byId<HTMLUListElement>('conversations'), me, (id) => this.open(id));
    client.on('message', (m) => this.onMessage(m));
    client.on('read', (r) => {
      const e = this.list.entries.get(r.conversation);
      if (!e || r.uid === me) return;
      e.peerRead = Math.max(e.peerRead, r.seq);
      if (r.conversation === this.list.active) this.view.setPeerRead(r.seq);
    });
    // After a reconnect the assignment may have changed (transfers): ask again.
    client.on('state', (s) => s === 'open' && void this.refresh());
    document.addEventListener('visibilitychange', () => this.markActiveRead());
    // A conversation handed to this agent brings no message until the customer writes: look on focus.
    window.addEventListener('focus', () => void this.refresh());
    byId('refresh').addEventListener('click', () => void this.refresh());
    composer.addEventListener('submit', (event) => {
      event.preventDefault();
      const body = text.value.trim();
      if (!body) return;
      text.value = '';
      this.send('text', body);
    });
    submitOnEnter(text, composer);
    orderButton.addEventListener('click', () =>
      this.send('order', { orderId: 'A-1001', status: 'shipped', amount: '25.00', currency: 'EUR' }),
    );
    transferForm.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.transfer();
    });
  }

  /** Fetches the assigned conversations; new ones are synced in from their first message. */
  refresh(): Promise<void> {
    this.refreshing ??= this.client.api
      .conversations(this.me, { limit: 100 })
      .then(({ conversations }) => {
        const customerService = conversations.filter((c) => c.kind === 'customer_service');
        for (const id of this.list.merge(customerService)) {
          this.client.sync(id).catch((err: unknown) => this.say(`Could not load ${id}: ${String(err)}`));
        }
      })
      .catch((err: unknown) => this.say(`Could not load the conversation list: ${String(err)}`))
      .finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private onMessage(m: Message): void {
    const known = this.list.entries.has(m.conversation);
    const visible = document.visibilityState === 'visible';
    this.list.add(m, visible);
    if (m.conversation === this.list.active) {
      this.view.add(m);
      this.markActiveRead();
    }
    if (!known) void this.refresh(); // a new customer (or one transferred to us): get its details
  }

  private open(id: string): void {
    const e = this.list.entries.get(id);
    if (!e) return;
    this.list.active = id;
    title.textContent = `Chat with ${e.peer}`;
    thread.hidden = false;
    this.view.clear();
    for (const m of e.messages) this.view.add(m);
    this.view.setPeerRead(e.peerRead);
    this.markActiveRead();
    this.list.render();
    void this.loadAgents(e.merchant);
    // On a phone the list and the chat are stacked: bring the chat into view.
    if (window.matchMedia('(max-width: 759px)').matches) thread.scrollIntoView({ block: 'start' });
    text.focus();
  }

  private markActiveRead(): void {
    const id = this.list.active;
    const e = id === undefined ? undefined : this.list.entries.get(id);
    if (!id || !e || document.visibilityState !== 'visible') return;
    const seq = this.view.lastTheirs();
    if (seq > 0) this.client.markRead(id, seq);
    if (e.unread !== 0) {
      e.unread = 0;
      this.list.render();
    }
  }

  private send(type: MessageType, content: Json): void {
    const conversation = this.list.active;
    if (!conversation) return;
    const clientMsgId = this.client.newClientMsgId();
    this.view.addPending(clientMsgId, type, content);
    this.client.send({ conversation }, type, content, { clientMsgId }).then(
      () => this.view.resolvePending(clientMsgId),
      (err: unknown) => this.view.failPending(clientMsgId, err instanceof Error ? err.message : String(err)),
    );
  }

  private async loadAgents(merchant: string | null): Promise<void> {
    transferSelect.replaceChildren();
    if (!merchant) return;
    let agents: string[];
    try {
      agents = (await this.client.api.agents(merchant)).agents.map((a) => a.uid);
    } catch {
      // Not every deployment lets an agent read the pool; the demo config lists it too.
      agents = merchants.find((m) => m.id === merchant)?.agents ?? [];
    }
    transferSelect.replaceChildren(
      ...agents.filter((a) => a !== this.me).map((a) => h('option', { value: a, text: a })),
    );
  }

  private async transfer(): Promise<void> {
    const id = this.list.active;
    const to = transferSelect.value;
    if (!id || !to) return;
    try {
      await this.client.api.transfer(id, to);
    } catch (err) {
      this.say(`Transfer failed: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    this.list.remove(id);
    this.client.untrack(id);
    thread.hidden = true;
    this.say(`Conversation handed over to ${to}.`);
    await this.refresh();
  }

  private say(message: string): void {
    notice.textContent = message;
  }
}

import type { CourierClient } from '../internal/client/index.js';
import type { Json, Message, MessageType } from '../internal/protocol/message.js';
import { byId, h, submitOnEnter } from './lib/dom.js';
import { MessageView } from './lib/message-view.js';
import { cleanUid, demoInfo, showState, signIn } from './lib/session.js';

// The shopper page: pick a demo name and a shop, then chat with the shop's customer service. Messages go to
// the merchant (`merchant` target); business assigns an agent on the first one and keeps it.

const PRODUCTS = [
  { productId: 'mug-01', title: 'Courier coffee mug', price: '12.50', currency: 'EUR', image: 'mug' },
  { productId: 'bag-02', title: 'Canvas tote bag', price: '19.90', currency: 'EUR', image: 'bag' },
  { productId: 'cap-03', title: 'Embroidered cap', price: '15.00', currency: 'EUR', image: 'cap' },
];

const status = byId('status');
const loginForm = byId<HTMLFormElement>('login');
const uidInput = byId<HTMLInputElement>('uid');
const merchantSelect = byId<HTMLSelectElement>('merchant');
const loginError = byId('login-error');
const chat = byId('chat');
const title = byId('chat-title');
const composer = byId<HTMLFormElement>('composer');
const text = byId<HTMLTextAreaElement>('text');
const products = byId('products');
const sendError = byId('send-error');

uidInput.value =
  localStorage.getItem('courier.shopper') ?? `shopper-${Math.random().toString(36).slice(2, 7)}`;

demoInfo().then(
  ({ merchants }) => {
    merchantSelect.replaceChildren(...merchants.map((m) => h('option', { value: m.id, text: m.name })));
    if (merchants.length === 0) loginError.textContent = 'No demo shop is configured.';
  },
  (err: unknown) => (loginError.textContent = `Demo sign-in is not available: ${String(err)}`),
);

loginForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const uid = cleanUid(uidInput.value);
  const merchant = merchantSelect.value;
  if (!uid || !merchant) {
    loginError.textContent = 'Choose a name and a shop.';
    return;
  }
  loginError.textContent = '';
  start(uid, merchant, merchantSelect.selectedOptions[0]?.textContent ?? merchant).catch((err: unknown) => {
    loginError.textContent = String(err instanceof Error ? err.message : err);
  });
});

async function start(uid: string, merchant: string, merchantName: string): Promise<void> {
  const client = await signIn(uid, 'customer');
  localStorage.setItem('courier.shopper', uid);
  showState(client, status);
  const chatView = new ShopChat(
    client,
    new MessageView(byId<HTMLOListElement>('messages'), uid),
    uid,
    merchant,
  );
  // A returning shopper's conversation is in the list; its history comes in through the sync after connect.
  const existing = await client.api.conversations(uid, { limit: 100 }).catch(() => undefined);
  const known = existing?.conversations.find((c) => c.merchant === merchant)?.id;
  if (known) chatView.setConversation(known);

  loginForm.hidden = true;
  chat.hidden = false;
  title.textContent = `Chat with ${merchantName}`;
  renderProducts(chatView);
  composer.addEventListener('submit', (event) => {
    event.preventDefault();
    const body = text.value.trim();
    if (!body) return;
    text.value = '';
    chatView.send('text', body);
  });
  submitOnEnter(text, composer);
  text.focus();
  await client.connect();
}

/** The chat with one shop. Its conversation id is known once it exists: from the list or the first send. */
class ShopChat {
  private conversation: string | undefined;
  // Messages that arrive before the id is known (the history synced in behind the first send).
  private readonly early: [Message, { clientMsgId?: string }][] = [];

  constructor(
    private readonly client: CourierClient,
    private readonly view: MessageView,
    private readonly uid: string,
    private readonly merchant: string,
  ) {
    client.on('message', (m, info) => {
      if (this.conversation === undefined) this.early.push([m, info]);
      else if (m.conversation === this.conversation) this.show(m, info);
    });
    client.on('read', (r) => {
      if (r.conversation === this.conversation && r.uid !== uid) view.setPeerRead(r.seq);
    });
    client.on('error', (err) => {
      if (client.state === 'closed') sendError.textContent = `Stopped: ${err.message}`;
    });
    document.addEventListener('visibilitychange', () => this.markRead());
  }

  setConversation(id: string): void {
    if (this.conversation !== undefined) return;
    this.conversation = id;
    this.client.track(id, 0);
    for (const [m, info] of this.early.splice(0)) if (m.conversation === id) this.show(m, info);
  }

  send(type: MessageType, content: Json): void {
    const clientMsgId = this.client.newClientMsgId();
    this.view.addPending(clientMsgId, type, content);
    sendError.textContent = '';
    this.client.send({ merchant: this.merchant }, type, content, { clientMsgId }).then(
      (message) => {
        this.setConversation(message.conversation);
        this.view.resolvePending(clientMsgId);
      },
      (err: unknown) => {
        const reason = err instanceof Error ? err.message : String(err);
        this.view.failPending(clientMsgId, reason);
        sendError.textContent = `Not sent: ${reason}`;
      },
    );
  }

  private show(m: Message, info: { clientMsgId?: string }): void {
    this.view.add(m, info.clientMsgId);
    if (m.from !== this.uid) this.markRead();
  }

  private markRead(): void {
    const seq = this.view.lastTheirs();
    if (this.conversation && seq > 0 && document.visibilityState === 'visible') {
      this.client.markRead(this.conversation, seq);
    }
  }
}

function renderProducts(chatView: ShopChat): void {
  products.replaceChildren(
    ...PRODUCTS.map((p) => {
      const button = h('button', { type: 'button', class: 'secondary' }, `Send ${p.title}`);
      button.addEventListener('click', () => {
        const { image, ...rest } = p;
        const content = {
          ...rest,
          image: `${location.origin}/assets/products/${image}.svg`,
          url: `${location.origin}/shop#${p.productId}`,
        };
        chatView.send('product', content);
      });
      return h('li', {}, button);
    }),
  );
}

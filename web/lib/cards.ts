import type { Json, Message } from '../../internal/protocol/message.js';
import { h } from './dom.js';

// How each message type looks. Content comes from other users, so every field is treated as untrusted:
// text only through textContent, links only http(s), images only from this origin (the page's CSP would
// block others anyway, and the pages make no requests beyond their own origin).

type Obj = Record<string, Json>;
const isObj = (v: Json): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: Json | undefined): string =>
  typeof v === 'string' || typeof v === 'number' ? String(v) : '';

export function renderContent(message: Message): HTMLElement {
  const c = message.content;
  if (message.type === 'text' && typeof c === 'string') return h('p', { class: 'text', text: c });
  if (message.type === 'product' && isObj(c)) return productCard(c);
  if (message.type === 'order' && isObj(c)) return orderCard(c);
  if (message.type === 'image' && isObj(c)) {
    const src = sameOrigin(str(c.url));
    return src
      ? h('img', { class: 'photo', src, alt: 'Image', width: str(c.width), height: str(c.height) })
      : h('p', { class: 'text', text: 'Image (hosted elsewhere, not loaded)' });
  }
  return h('pre', { class: 'custom', text: typeof c === 'string' ? c : JSON.stringify(c, null, 1) });
}

export function productCard(c: Obj): HTMLElement {
  const title = str(c.title) || 'Product';
  const src = sameOrigin(str(c.image));
  const link = httpUrl(str(c.url));
  return h(
    'article',
    { class: 'card product', 'aria-label': `Product: ${title}` },
    src
      ? h('img', { src, alt: '', width: 64, height: 64 })
      : h('div', { class: 'noimage', 'aria-hidden': 'true' }),
    h(
      'div',
      {},
      h('h3', { text: title }),
      h('p', { class: 'price', text: money(c.price, c.currency) }),
      link && h('a', { href: link, text: 'View product' }),
    ),
  );
}

export function orderCard(c: Obj): HTMLElement {
  const id = str(c.orderId) || '?';
  return h(
    'article',
    { class: 'card order', 'aria-label': `Order ${id}` },
    h('h3', { text: `Order ${id}` }),
    h('p', {}, 'Status: ', h('strong', { class: 'order-status', text: str(c.status) })),
    h('p', { class: 'price', text: money(c.amount, c.currency) }),
  );
}

/** One line for the conversation list. */
export function preview(message: Message): string {
  const c = message.content;
  if (message.type === 'text' && typeof c === 'string') return c;
  if (message.type === 'product' && isObj(c)) return `Product: ${str(c.title)}`;
  if (message.type === 'order' && isObj(c)) return `Order ${str(c.orderId)}: ${str(c.status)}`;
  return message.type === 'image' ? 'Image' : 'Message';
}

function money(amount: Json | undefined, currency: Json | undefined): string {
  const value = Number(str(amount));
  const code = str(currency);
  if (!Number.isFinite(value)) return str(amount);
  if (!code) return value.toFixed(2);
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency: code }).format(value);
  } catch {
    return `${value.toFixed(2)} ${code}`; // an unknown currency code
  }
}

function httpUrl(url: string): string | undefined {
  return /^https?:\/\//i.test(url) ? url : undefined;
}

function sameOrigin(url: string): string | undefined {
  try {
    return new URL(url, location.href).origin === location.origin ? url : undefined;
  } catch {
    return undefined; // not a URL at all
  }
}

import { CourierClient, type ClientState, type TokenInfo } from '../../internal/client/index.js';
import type { Role } from '../../internal/protocol/message.js';

// Demo sign-in: business issues user tokens at POST /demo/token when `business.demoLogin` is on, so these
// pages never hold the API key. A real app gets its token from its own backend (POST /v1/tokens).

export interface DemoMerchant {
  id: string;
  name: string;
  agents: string[];
}

export async function demoInfo(): Promise<{ merchants: DemoMerchant[] }> {
  const res = await fetch('/demo/info');
  if (!res.ok) throw new Error(`demo info: HTTP ${res.status}`);
  return (await res.json()) as { merchants: DemoMerchant[] };
}

export async function demoToken(uid: string, role: Role): Promise<TokenInfo> {
  const res = await fetch('/demo/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ uid, role }),
  });
  const body = (await res.json().catch(() => ({}))) as {
    token?: string;
    expiresAt?: number;
    error?: { message?: string };
  };
  if (!res.ok || typeof body.token !== 'string') {
    throw new Error(body.error?.message ?? `demo sign-in failed (HTTP ${res.status})`);
  }
  return { token: body.token, expiresAt: body.expiresAt };
}

/** A client for this page's user, renewing its token through the demo endpoint. */
export async function signIn(uid: string, role: Role): Promise<CourierClient> {
  const token = await demoToken(uid, role);
  return new CourierClient({ baseUrl: location.origin, token, refreshToken: () => demoToken(uid, role) });
}

const STATE_TEXT: Record<ClientState, string> = {
  idle: 'Not connected',
  connecting: 'Connecting…',
  open: 'Connected',
  reconnecting: 'Connection lost, reconnecting…',
  closed: 'Disconnected',
};

/** Mirrors the connection state into a status element (role=status, announced politely). */
export function showState(client: CourierClient, el: HTMLElement): void {
  const render = (state: ClientState) => {
    el.textContent = STATE_TEXT[state];
    el.dataset.state = state;
  };
  render(client.state);
  client.on('state', render);
}

/** A uid that is valid in courier (DESIGN: A-Z a-z 0-9 _ . @ -), from what a person typed. */
export function cleanUid(text: string): string {
  return text
    .trim()
    .replace(/\s+/g, '-')
    .replace(/[^A-Za-z0-9_.@-]/g, '')
    .slice(0, 64);
}

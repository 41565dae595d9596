import type { Message } from '../protocol/message.js';
import { CourierClientError } from './errors.js';

// The public HTTP API of DESIGN §3, as far as a user's app needs it, called with the user's own token.

export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
) => Promise<{ status: number; text(): Promise<string> }>;

export interface ConversationSummary {
  id: string;
  kind: 'direct' | 'customer_service' | 'group';
  peer: string | null;
  merchant: string | null;
  lastMessage: Message | null;
  unread: number;
  updatedAt: number;
}

export interface Agent {
  uid: string;
  maxSessions: number;
}

/** A refused HTTP call: the status and the error body of DESIGN §3. */
export class ApiError extends CourierClientError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
    readonly field?: string,
  ) {
    super(code, message);
  }
}

export class CourierApi {
  private readonly base: string;

  constructor(
    baseUrl: string,
    private readonly token: () => string,
    private readonly fetchFn: FetchLike = (url, init) => globalThis.fetch(url, init),
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  gateway(): Promise<{ url: string }> {
    return this.call('GET', '/v1/gateway');
  }

  conversations(uid: string, options: { limit?: number; cursor?: string } = {}) {
    const q = new URLSearchParams();
    if (options.limit !== undefined) q.set('limit', String(options.limit));
    if (options.cursor !== undefined) q.set('cursor', options.cursor);
    const query = q.toString() ? `?${q.toString()}` : '';
    return this.call<{ conversations: ConversationSummary[]; next: string | null }>(
      'GET',
      `/v1/users/${enc(uid)}/conversations${query}`,
    );
  }

  history(conversation: string, after = 0, limit = 50) {
    return this.call<{ messages: Message[]; hasMore: boolean }>(
      'GET',
      `/v1/conversations/${enc(conversation)}/messages?after=${after}&limit=${limit}`,
    );
  }

  markRead(conversation: string, seq: number) {
    return this.call<{ conversation: string; uid: string; seq: number }>(
      'POST',
      `/v1/conversations/${enc(conversation)}/read`,
      { seq },
    );
  }

  transfer(conversation: string, agent: string) {
    return this.call<Record<string, unknown>>('POST', `/v1/conversations/${enc(conversation)}/transfer`, {
      agent,
    });
  }

  agents(merchant: string) {
    return this.call<{ agents: Agent[] }>('GET', `/v1/merchants/${enc(merchant)}/agents`);
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token()}` };
    const init: Parameters<FetchLike>[1] = { method, headers };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res: Awaited<ReturnType<FetchLike>>;
    try {
      res = await this.fetchFn(this.base + path, init);
    } catch (err) {
      // A network failure is worth retrying, like a 503.
      throw new ApiError(0, 'unavailable', `${method} ${path}: ${(err as Error).message}`);
    }
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null; // a proxy's HTML error page: reported by status below
    }
    if (res.status >= 200 && res.status < 300) return json as T;
    const error = (json as { error?: { code?: unknown; message?: unknown; field?: unknown } } | null)?.error;
    throw new ApiError(
      res.status,
      typeof error?.code === 'string' ? error.code : `http_${res.status}`,
      typeof error?.message === 'string' ? error.message : `${method} ${path} answered ${res.status}`,
      typeof error?.field === 'string' ? error.field : undefined,
    );
  }
}

const enc = encodeURIComponent;

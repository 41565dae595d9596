// The admin page's calls, all to its own origin with `Authorization: Bearer <admin key>`: the dashboard API
// (/admin/v1/...) and the public API's bans and word list, which accept an admin key too.

import type {
  ClusterAnswer as Cluster,
  ClusterNodeView as NodeView,
  TrafficPoint,
} from '../../internal/business/cluster-answer.js';

export type { Cluster, NodeView, TrafficPoint };

export interface Device {
  connId: string;
  worker: string;
  ip: string;
  role: string;
  platform: string;
  channel: string;
  since: number;
}

export interface Ban {
  id: string;
  reason: string;
  expiresAt: number;
  auto: boolean;
}

export type BanKind = 'uids' | 'ips';

export interface WordList {
  words: string[];
  mode: 'mask' | 'reject';
}

/** A refusal from the server, with its status and the message of its error body. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class AdminApi {
  constructor(private readonly key: string) {}

  cluster(): Promise<Cluster> {
    return this.call('GET', '/admin/v1/cluster');
  }

  devices(uid: string): Promise<{ uid: string; devices: Device[] }> {
    return this.call('GET', `/admin/v1/users/${encodeURIComponent(uid)}/devices`);
  }

  kick(uid: string, connId: string): Promise<{ closed: number }> {
    return this.call('POST', '/admin/v1/kick', { uid, connId });
  }

  bans(): Promise<Record<BanKind, Ban[]>> {
    return this.call('GET', '/v1/blacklist');
  }

  ban(kind: BanKind, id: string, ttlSeconds: number, reason: string): Promise<Ban> {
    return this.call('PUT', `/v1/blacklist/${kind}/${encodeURIComponent(id)}`, { ttlSeconds, reason });
  }

  unban(kind: BanKind, id: string): Promise<unknown> {
    return this.call('DELETE', `/v1/blacklist/${kind}/${encodeURIComponent(id)}`);
  }

  words(): Promise<WordList> {
    return this.call('GET', '/v1/sensitive-words');
  }

  putWords(list: WordList): Promise<WordList> {
    return this.call('PUT', '/v1/sensitive-words', list);
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.key}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      throw new ApiError(res.status, `the server answered ${res.status} with a body that is not JSON`);
    }
    if (!res.ok) {
      const error = (parsed as { error?: { message?: unknown } } | null)?.error;
      const message = typeof error?.message === 'string' ? error.message : `request failed (${res.status})`;
      throw new ApiError(res.status, message);
    }
    return parsed as T;
  }
}

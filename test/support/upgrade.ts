import type { IncomingHttpHeaders } from 'node:http';
import { WebSocket } from 'ws';

/** What one WebSocket upgrade attempt got: the open socket, or the refusal's status, headers and JSON error. */
export type UpgradeOutcome =
  | { status: 101; ws: WebSocket }
  | { status: number; headers: IncomingHttpHeaders; error: { code: string; message: string } };

/** Tries one upgrade with `?token=` (and optional headers); a refusal must carry courier's JSON error body. */
export function upgradeAttempt(
  url: string,
  token: string,
  headers: Record<string, string> = {},
): Promise<UpgradeOutcome> {
  const ws = new WebSocket(`${url}?token=${encodeURIComponent(token)}`, { headers });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ status: 101, ws }));
    ws.on('error', () => undefined); // the aborted request after 'unexpected-response'
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        try {
          const { error } = JSON.parse(body) as { error: { code: string; message: string } };
          resolve({ status: res.statusCode ?? 0, headers: res.headers, error });
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
    });
  });
}

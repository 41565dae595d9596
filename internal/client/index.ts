// The courier client SDK: import from here in apps, web pages, tests and load tools.
//
//   const client = new CourierClient({
//     baseUrl: 'http://localhost:8080', // the business API; the worker comes from GET /v1/gateway
//     token: { token, expiresAt },      // a user token (POST /v1/tokens on your backend)
//     refreshToken: () => myBackend.newToken(),
//     WebSocket,                        // Node only: `import WebSocket from 'ws'`; browsers have their own
//   });
//   client.on('message', (m) => render(m)); // each message once, in seq order per conversation
//   client.on('read', (r) => showRead(r));
//   client.on('state', (s) => showState(s)); // connecting | open | reconnecting | closed
//   await client.connect();
//   await client.send({ merchant: 'demo-shop' }, 'text', 'hello'); // retried with one clientMsgId until stored
export { CourierClient } from './courier-client.js';
export type { ClientEvents, ClientState, CourierClientOptions, ReadReceipt, Target } from './types.js';
export { ApiError, CourierApi } from './api.js';
export type { Agent, ConversationSummary, FetchLike } from './api.js';
export { Backoff } from './backoff.js';
export type { BackoffOptions } from './backoff.js';
export { systemClock } from './clock.js';
export type { Clock } from './clock.js';
export { CourierClientError } from './errors.js';
export type { SocketLike, WebSocketConstructor } from './socket.js';
export type { TokenInfo, TokenRefresher } from './token.js';
export type { Message, MessageType, Json } from '../protocol/message.js';

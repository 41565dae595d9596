// A lean HTTP/1.1 keep-alive client for the load generators. node:http's client spent about half of a push
// generator's CPU per single POST (a ClientRequest, an IncomingMessage stream, header objects and
// validation per request), and the generators share the two cores with the servers they measure. Here a
// request is one string written to an idle socket, and an answer is cut out of the bytes that come back:
// status line, Content-Length or chunked body, nothing else kept. One request per socket at a time (no
// pipelining), so a slow answer delays only its own socket, as with node's Agent.
import { connect, type Socket } from 'node:net';

export interface HttpAnswer {
  status: number;
  body: string;
}

const CRLF2 = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');
/** A head larger than this is not an HTTP answer any server here would send. */
const MAX_HEAD_BYTES = 64 * 1024;

/**
 * Cuts HTTP/1.1 answers out of a byte stream. `push` returns the answer once its last byte arrived;
 * `end` is called when the peer closed, and finishes an answer that runs to the close (no length given).
 * Throws on bytes that are not an answer, so the caller can drop the socket with a clear reason.
 */
export class ResponseParser {
  private buf: Buffer | undefined;
  private status = 0;
  private keepAlive = true;
  private bodyStart = -1; // -1: the head is not complete yet
  private length = -1; // Content-Length; -1 for chunked or "until close"
  private chunked = false;
  private chunks: Buffer[] = []; // decoded chunks of a chunked body
  private chunkAt = 0; // where the next chunk-size line starts in buf

  /** The last finished answer asked to close the connection. */
  get closeAfter(): boolean {
    return !this.keepAlive;
  }

  push(data: Buffer): HttpAnswer | undefined {
    this.buf = this.buf === undefined ? data : Buffer.concat([this.buf, data]);
    if (this.bodyStart < 0 && !this.readHead()) return undefined;
    if (this.chunked) return this.readChunks();
    if (this.length < 0) return undefined; // runs until the close
    if (this.buf.length - this.bodyStart < this.length) return undefined;
    if (this.buf.length - this.bodyStart > this.length) throw new Error('bytes after the answer');
    return this.finish(this.buf.toString('utf8', this.bodyStart));
  }

  /** The peer closed: the answer that runs to the close is done; any other half answer is an error. */
  end(): HttpAnswer | undefined {
    if (this.buf === undefined) return undefined;
    if (this.bodyStart < 0 || this.chunked || this.length >= 0)
      throw new Error('connection closed mid-answer');
    this.keepAlive = false;
    return this.finish(this.buf.toString('utf8', this.bodyStart));
  }

  private readHead(): boolean {
    const buf = this.buf as Buffer;
    const end = buf.indexOf(CRLF2);
    if (end < 0) {
      if (buf.length > MAX_HEAD_BYTES) throw new Error('answer head too long');
      return false;
    }
    const lines = buf.toString('latin1', 0, end).split('\r\n');
    const statusLine = lines[0] as string;
    const status = Number(statusLine.slice(9, 12));
    if (!statusLine.startsWith('HTTP/1.') || !(status >= 100 && status <= 599))
      throw new Error(`not an HTTP answer: ${JSON.stringify(statusLine.slice(0, 40))}`);
    this.status = status;
    this.keepAlive = statusLine.startsWith('HTTP/1.1');
    this.length = -1;
    this.chunked = false;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i] as string;
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).toLowerCase();
      const value = line
        .slice(colon + 1)
        .trim()
        .toLowerCase();
      if (name === 'content-length') {
        this.length = Number(value);
        if (!Number.isSafeInteger(this.length) || this.length < 0)
          throw new Error(`bad content-length ${JSON.stringify(value)}`);
      } else if (name === 'transfer-encoding') this.chunked = value.endsWith('chunked');
      else if (name === 'connection') this.keepAlive = value !== 'close';
    }
    // 1xx, 204 and 304 carry no body whatever the headers say (RFC 9112 §6.3).
    if (status < 200 || status === 204 || status === 304) this.length = 0;
    this.bodyStart = end + 4;
    this.chunkAt = this.bodyStart;
    return true;
  }

  private readChunks(): HttpAnswer | undefined {
    const buf = this.buf as Buffer;
    for (;;) {
      const eol = buf.indexOf(CRLF, this.chunkAt);
      if (eol < 0) return undefined;
      const size = parseInt(buf.toString('latin1', this.chunkAt, eol), 16); // chunk extensions end the digits
      if (!Number.isSafeInteger(size) || size < 0) throw new Error('bad chunk size');
      if (size === 0) {
        // The last chunk, then optional trailers, then an empty line.
        const end = buf.indexOf(CRLF2, eol - 2);
        if (end < 0) return undefined;
        if (end + 4 !== buf.length) throw new Error('bytes after the answer');
        return this.finish(Buffer.concat(this.chunks).toString('utf8'));
      }
      if (buf.length < eol + 2 + size + 2) return undefined;
      this.chunks.push(buf.subarray(eol + 2, eol + 2 + size));
      this.chunkAt = eol + 2 + size + 2;
    }
  }

  private finish(body: string): HttpAnswer {
    const answer = { status: this.status, body };
    this.buf = undefined;
    this.bodyStart = -1;
    this.chunks = [];
    return answer;
  }
}

interface Pending {
  request: string;
  deadline: number;
  resolve: (answer: HttpAnswer) => void;
  reject: (err: Error) => void;
}

interface Conn {
  socket: Socket;
  parser: ResponseParser;
  current: Pending | undefined;
  idleSince: number;
}

function failure(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * Up to `maxSockets` keep-alive connections to one host. Requests beyond that wait in order for a free
 * socket. A socket idle for `idleMs` is closed before reuse rather than written to, because the server may
 * be closing it at that moment (node's keepAliveTimeout is 5 s) and the request would be lost.
 */
export class HttpPool {
  private readonly idle: Conn[] = [];
  private readonly busy = new Set<Conn>();
  private waiting: Pending[] = [];
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly maxSockets: number,
    private readonly idleMs = 4_000,
  ) {
    if (!Number.isInteger(maxSockets) || maxSockets < 1)
      throw new RangeError(`maxSockets must be a positive integer (got ${maxSockets})`);
    // One timer for every deadline instead of one per request: a timeout is a failure to report, not a
    // time to measure, so a quarter of a second late is fine.
    this.sweeper = setInterval(() => this.expire(Date.now()), 250).unref();
  }

  /** Sockets open now, busy or idle. */
  get sockets(): number {
    return this.idle.length + this.busy.size;
  }

  /** Requests waiting for a socket now. */
  get queued(): number {
    return this.waiting.length;
  }

  /** `request` is the whole request, head and body, as it goes on the wire. */
  send(request: string, timeoutMs: number): Promise<HttpAnswer> {
    if (this.closed) return Promise.reject(failure('client closed', 'CLOSED'));
    return new Promise<HttpAnswer>((resolve, reject) => {
      const pending = { request, deadline: Date.now() + timeoutMs, resolve, reject };
      const conn = this.take();
      if (conn) this.start(conn, pending);
      else this.waiting.push(pending);
    });
  }

  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const p of this.waiting.splice(0)) p.reject(failure('client closed', 'CLOSED'));
    for (const c of [...this.idle, ...this.busy]) this.drop(c, failure('client closed', 'CLOSED'));
  }

  private take(): Conn | undefined {
    const now = Date.now();
    for (let c = this.idle.pop(); c; c = this.idle.pop()) {
      if (now - c.idleSince < this.idleMs && !c.socket.destroyed) return c;
      c.socket.destroy();
    }
    return this.sockets < this.maxSockets ? this.open() : undefined;
  }

  private open(): Conn {
    const socket = connect({ host: this.host, port: this.port, noDelay: true });
    const conn: Conn = { socket, parser: new ResponseParser(), current: undefined, idleSince: 0 };
    socket.on('data', (data: Buffer) => {
      let answer: HttpAnswer | undefined;
      try {
        answer = conn.parser.push(data);
      } catch (err) {
        return this.drop(conn, failure(`bad answer: ${(err as Error).message}`, 'BAD_ANSWER'));
      }
      if (answer) this.answered(conn, answer);
    });
    socket.on('error', (err) => this.drop(conn, err));
    socket.on('close', () => {
      let answer: HttpAnswer | undefined;
      try {
        answer = conn.parser.end();
      } catch (err) {
        return this.drop(conn, failure((err as Error).message, 'ECONNRESET'));
      }
      if (answer) this.answered(conn, answer);
      this.drop(conn, failure('connection closed before the answer', 'ECONNRESET'));
    });
    return conn;
  }

  private start(conn: Conn, pending: Pending): void {
    conn.current = pending;
    this.busy.add(conn);
    conn.socket.write(pending.request);
  }

  private answered(conn: Conn, answer: HttpAnswer): void {
    const pending = conn.current;
    if (!pending) return this.drop(conn, failure('an answer nobody asked for', 'BAD_ANSWER'));
    conn.current = undefined;
    pending.resolve(answer);
    if (conn.parser.closeAfter) return this.drop(conn, undefined);
    const next = this.waiting.shift();
    if (next) return this.start(conn, next);
    this.busy.delete(conn);
    conn.idleSince = Date.now();
    this.idle.push(conn);
  }

  /** Closes a connection; its request, if any, fails with `err`; a waiting request gets a new socket. */
  private drop(conn: Conn, err: Error | undefined): void {
    const pending = conn.current;
    conn.current = undefined;
    if (!conn.socket.destroyed) conn.socket.destroy();
    const wasBusy = this.busy.delete(conn);
    const at = this.idle.indexOf(conn);
    if (at >= 0) this.idle.splice(at, 1);
    if (pending) pending.reject(err ?? failure('connection closed before the answer', 'ECONNRESET'));
    if (wasBusy && !this.closed && this.waiting.length > 0) {
      const next = this.take();
      if (next) this.start(next, this.waiting.shift() as Pending);
    }
  }

  private expire(now: number): void {
    // The waiting first, so that a socket freed by a timeout below is not given to a request already late.
    // Every one of them: a request with a short timeout may wait behind one with a long one.
    if (this.waiting.some((p) => p.deadline <= now)) {
      const late = this.waiting.filter((p) => p.deadline <= now);
      this.waiting = this.waiting.filter((p) => p.deadline > now);
      for (const p of late) p.reject(failure('request timed out waiting for a socket', 'TIMEOUT'));
    }
    for (const c of [...this.busy]) {
      if (c.current && c.current.deadline <= now) this.drop(c, failure('request timed out', 'TIMEOUT'));
    }
  }
}

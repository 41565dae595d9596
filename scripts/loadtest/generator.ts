// Entry point of a load-generator process (forked by `conns` and `push`). It waits for one job from the
// parent, runs it, and exits by itself: when the parent says close, when the parent goes away (IPC
// disconnect), or at the job's deadline, so an interrupted run never leaves generators holding sockets.
import { runConnsJob } from './gen-conns.js';
import { runPushJob } from './gen-push.js';
import type { ChildMessage, ParentMessage } from './ipc.js';

if (!process.send) {
  process.stderr.write('generator.js is started by the load tools (child_process.fork), not by hand\n');
  process.exit(2);
}

let proc = -1;
const send = (message: ChildMessage) => {
  if (process.connected) process.send?.(message);
};
const resolvers = {
  go: (_: number) => undefined as void,
  collect: () => undefined as void,
  close: () => undefined as void,
};
const go = new Promise<number>((resolve) => (resolvers.go = resolve));
const collect = new Promise<void>((resolve) => (resolvers.collect = resolve));
const closed = new Promise<void>((resolve) => (resolvers.close = resolve));

function exitSoon(code: number): void {
  // Give closing sockets a moment to send their close frames; unref'd, so a clean loop exits earlier.
  setTimeout(() => process.exit(code), 3000).unref();
  if (process.connected) process.disconnect();
}

function fatal(err: unknown): void {
  send({ type: 'fatal', proc, message: err instanceof Error ? err.message : String(err) });
  exitSoon(1);
}

// A send racing the parent's exit fails with EPIPE as an 'error' event on the process; the disconnect
// handler below ends the job, so the error itself needs no more than this (unhandled, it crashed generators).
process.on('error', (err) => {
  if ((err as NodeJS.ErrnoException).code !== 'EPIPE') process.stderr.write(`generator: ${String(err)}\n`);
});

process.on('disconnect', () => {
  resolvers.close();
  setTimeout(() => process.exit(0), 5000).unref();
});

process.on('message', (raw: unknown) => {
  const message = raw as ParentMessage;
  switch (message.type) {
    case 'conns-job':
    case 'push-job': {
      proc = message.proc;
      const deadline = setTimeout(
        () => fatal(new Error('deadline reached; exiting')),
        Math.max(1000, message.deadlineMs - Date.now()),
      );
      deadline.unref();
      const io = { send, go, closed, collect };
      const run = message.type === 'conns-job' ? runConnsJob(message, io) : runPushJob(message, io);
      run.then(() => exitSoon(0), fatal);
      return;
    }
    case 'go':
      resolvers.go(message.startMs);
      return;
    case 'collect':
      resolvers.collect();
      return;
    case 'close':
      resolvers.close();
      return;
  }
});

/**
 * The accept queue every courier listener asks for. Node's default is 511; a burst of opens that arrives
 * while the event loop is busy overflows that, and the kernel then drops SYNs, which clients resend only
 * after 1 s, 3 s, 7 s: measured with `npm run bench`, 5,000 opens with 1,000 handshakes in flight lost up
 * to 7 s that way (TcpExtListenOverflows). The kernel caps the figure at net.core.somaxconn, which is what
 * Go's net package asks for too, so this means "as deep as the host allows".
 *
 * A module of its own, without dependencies, so that the load tools' Socket.IO peer listens with the same
 * queue.
 */
export const LISTEN_BACKLOG = 65_535;

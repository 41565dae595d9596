import { z } from 'zod';
import { parseIpRange } from '../blacklist/client-ip.js';
import { UID_PATTERN, UID_RULE } from '../protocol/message.js';

// One schema for every role; each role reads the sections it needs. Defaults and units sit beside each key.
// Unknown keys are rejected so that a misspelt key stops the process instead of being silently ignored.

const port = z.number().int().min(0).max(65535);
const listen = (defaultPort: number) =>
  z
    .object({
      host: z.string().default('0.0.0.0'),
      port: port.default(defaultPort), // 0 picks a free port (tests)
      /** Address other nodes and clients use to reach this listener; derived from host/port when empty. */
      advertise: z.string().default(''),
    })
    .strict()
    .default({});

const redis = z
  .object({
    mode: z.enum(['standalone', 'sentinel', 'cluster']).default('standalone'),
    url: z.string().default('redis://127.0.0.1:6379'), // standalone
    nodes: z.array(z.string()).default([]), // cluster seeds or sentinels, host:port
    sentinelName: z.string().default('mymaster'),
    password: z.string().default(''),
    prefix: z.string().default('courier:'), // key prefix of DESIGN §5
  })
  .strict()
  .default({});

/** A token bucket per caller (DESIGN §3: 429 with Retry-After); perSecond 0 turns the limit off. */
const rateRule = (perSecond: number, burst: number) =>
  z
    .object({
      perSecond: z.number().min(0).default(perSecond), // requests refilled per second (0 = no limit)
      burst: z.number().int().min(1).default(burst), // requests allowed at once after a quiet spell
    })
    .strict()
    .default({});

// Blacklist and rate counters sit beside the registry (DESIGN §2), so by default they follow its driver.
const sharedDriver = z.enum(['memory', 'redis']).optional(); // unset = registry.driver

// A merchant with its agent pool, for business.seed (the demo shop of `npm start`).
const seedId = z.string().regex(UID_PATTERN, UID_RULE);
const seedMerchant = z
  .object({
    id: seedId,
    agents: z.array(z.object({ uid: seedId, maxSessions: z.number().int().positive() }).strict()).min(1),
  })
  .strict();

export const configSchema = z
  .object({
    node: z
      .object({
        /** Node id in discovery and the registry; empty = `<role>-<hostname>-<pid>`. */
        id: z.string().default(''),
        /**
         * All-in-one only: the roles call each other in-process instead of over their real hops (HTTP to the
         * dispatcher, the gRPC stream to the worker, HTTP back to business). Off by default, so that `npm start`
         * exercises the path a cluster takes; on, it saved ~6 % of the CPU per message (docs/BENCHMARKS.md).
         */
        inProcessHops: z.boolean().default(false),
      })
      .strict()
      .default({}),
    log: z
      .object({
        level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
        // Coloured lines instead of JSON; 'auto' = when stdout is a terminal and NODE_ENV is not production.
        pretty: z.union([z.boolean(), z.literal('auto')]).default('auto'),
        // JSON lines into this file instead of stdout, rotated daily as <name>.<yyyy-MM-dd>.<n>.log.
        file: z.string().default(''),
        keepDays: z.number().int().min(1).default(14), // rotated files kept beside the current one
      })
      .strict()
      .default({}),
    auth: z
      .object({
        /** Server API keys: act for any uid. None by default outside the all-in-one config. */
        apiKeys: z.array(z.string().min(12, 'an API key needs at least 12 characters')).default([]),
        /** Keys of the /admin dashboard (they also act as API keys for bans and the word list); none by default. */
        adminKeys: z.array(z.string().min(12, 'an admin key needs at least 12 characters')).default([]),
        /** Shared secret between courier nodes for internal calls (worker → business, business → dispatcher). */
        internalKey: z.string().default(''),
        jwt: z
          .object({
            alg: z.enum(['HS256', 'RS256']).default('HS256'),
            secret: z.string().default(''), // HS256
            privateKey: z.string().default(''), // RS256, PEM (PKCS#8), or a path to one
            publicKey: z.string().default(''), // RS256, PEM (SPKI), or a path to one
            issuer: z.string().default('courier'),
            ttlSeconds: z.number().int().positive().default(86_400), // lifetime of issued user tokens
          })
          .strict()
          .default({}),
      })
      .strict()
      .default({}),
    registry: z
      .object({
        driver: z.enum(['memory', 'redis']).default('memory'),
        ttlSeconds: z.number().int().positive().default(180), // conn:{uid} expiry, refreshed by heartbeats
      })
      .strict()
      .default({}),
    sequencer: z
      .object({ driver: z.enum(['memory', 'redis']).default('memory') })
      .strict()
      .default({}),
    redis,
    discovery: z
      .object({
        driver: z.enum(['static', 'etcd']).default('static'),
        /** Fixed peers for the static driver when roles run as separate processes. */
        static: z
          .object({
            workers: z
              .array(z.object({ id: z.string(), grpc: z.string(), ws: z.string() }).strict())
              .default([]),
            dispatchers: z.array(z.object({ id: z.string(), http: z.string() }).strict()).default([]),
            business: z.array(z.object({ id: z.string(), http: z.string() }).strict()).default([]),
          })
          .strict()
          .default({}),
        etcd: z
          .object({
            hosts: z.array(z.string()).default(['http://127.0.0.1:2379']),
            prefix: z.string().default('/courier/'),
            leaseTtlSeconds: z.number().int().min(2).default(10),
          })
          .strict()
          .default({}),
      })
      .strict()
      .default({}),
    store: z
      .object({
        driver: z.enum(['sqlite', 'mysql']).default('sqlite'),
        sqlite: z
          .object({ path: z.string().default('data/courier.db') })
          .strict()
          .default({}),
        mysql: z
          .object({
            url: z.string().default('mysql://courier:courier@127.0.0.1:3306/courier'),
            replicaUrl: z.string().default(''), // history reads go here when set
            poolSize: z.number().int().positive().default(10),
          })
          .strict()
          .default({}),
        groupCommitMaxRows: z.number().int().positive().default(500), // rows per multi-row insert
        // How long a group commit may wait for more messages before it starts (GroupCommit's linger).
        groupCommitLingerMs: z.number().min(0).max(1000).default(2),
      })
      .strict()
      .default({}),
    business: z
      .object({
        http: listen(8080),
        maxMessageBytes: z.number().int().positive().default(16_384), // serialised content limit
        maxBatch: z.number().int().positive().max(5000).default(500), // messages per POST /v1/messages/batch
        // A customer token may write to merchants, their agents and users it already shares a conversation
        // with; true lets it write to anyone. API-key senders are trusted servers and never limited.
        openMessaging: z.boolean().default(false),
        // A customer-service conversation with no message for this long stops counting toward its agent's
        // maxSessions (it stays assigned: the customer's next message still goes to that agent); 0 = never.
        sessionIdleSeconds: z.number().int().min(0).default(1_800),
        sensitiveWords: z
          .object({
            // The list in use until one is PUT to /v1/sensitive-words (then the stored one wins); '' = none.
            // One word per line, `#` starts a comment line; relative to the working directory.
            file: z.string().default('configs/sensitive-words.txt'),
            mode: z.enum(['mask', 'reject']).default('mask'), // with the file's list
            pollSeconds: z.number().positive().default(3), // how soon a PUT on another node applies here
          })
          .strict()
          .default({}),
        // Merchants whose agent pool is set at start-up when the store has none for them (the demo shop).
        seed: z
          .object({ merchants: z.array(seedMerchant).default([]) })
          .strict()
          .default({}),
        dispatchTimeoutMs: z.number().int().positive().default(5_000), // per dispatcher call
        // Business process only: also run a dispatcher in this process (on dispatcher.http, registered like
        // any other, so other business nodes may use it) and dispatch to it with a call instead of an HTTP
        // request. One process fewer per message for small deployments (docs/DEPLOY.md).
        embedDispatcher: z.boolean().default(false),
        // POST /demo/token hands a token for any uid to anyone: for the demo web pages of `npm start` only.
        demoLogin: z.boolean().default(false),
      })
      .strict()
      .default({}),
    dispatcher: z
      .object({
        http: listen(8081),
        pushTimeoutMs: z.number().int().positive().default(3_000), // wait for a worker's batch result
      })
      .strict()
      .default({}),
    worker: z
      .object({
        ws: listen(8090),
        path: z.string().default('/ws'),
        grpc: listen(8092),
        ackTimeoutMs: z.number().int().positive().default(18_000), // resend after this long without an ACK
        ackRetries: z.number().int().min(0).default(3), // resends before closing with 4008
        heartbeatSeconds: z.number().positive().default(30), // ping after this much read silence
        maxFrameBytes: z.number().int().positive().default(65_536), // larger frames close with 1009
        maxPendingAcks: z.number().int().positive().default(1_000), // un-ACKed messages per connection
        tickMs: z.number().int().positive().default(100), // timer wheel resolution
        handshakeTimeoutMs: z.number().int().positive().default(10_000), // unfinished upgrades are dropped
        maxFramesPerSecond: z.number().min(0).default(100), // client frames per connection (0 = no cap)
        frameBurst: z.number().int().positive().default(200), // client frames allowed at once
        // Connections held (plus handshakes in progress) before upgrades get 503; 0 = the soft open-files
        // limit (ulimit -n) minus 256 for the worker's own files, or no cap where it cannot be read.
        maxConnections: z.number().int().min(0).default(0),
      })
      .strict()
      .default({}),
    http: z
      .object({
        /**
         * Peers whose X-Forwarded-For is believed (load balancers, reverse proxies), as addresses or CIDRs;
         * the client IP is then the right-most untrusted address in it. Business and worker.
         */
        trustedProxies: z
          .array(z.string().refine((v) => parseIpRange(v) !== null, 'must be an IP address or CIDR'))
          .default([]),
      })
      .strict()
      .default({}),
    // maxBanSeconds ≥ banSeconds is checked where the blacklist is built: a refine here would hide the
    // section's keys from the COURIER_* mapping.
    blacklist: z
      .object({
        driver: sharedDriver,
        maxConnects: z.number().int().min(0).default(20), // attempts per uid per window (0 = no auto bans)
        maxConnectsPerIp: z.number().int().min(0).default(1_000), // per IP; NAT puts many users behind one
        windowSeconds: z.number().positive().default(60), // attempts are counted from the first one
        banSeconds: z.number().positive().default(300), // length of an automatic ban
        extendSeconds: z.number().min(0).default(60), // added by each attempt during an automatic ban
        maxBanSeconds: z.number().positive().default(3_600), // an automatic ban ends at most this far ahead
        defaultTtlSeconds: z.number().int().positive().default(86_400), // manual bans without ttlSeconds
        // Redis driver: how long a node may answer a ban check from memory. Changes reach every node at once
        // over pub/sub; this bounds staleness only if such a message is lost unnoticed (0 = always read Redis).
        checkCacheSeconds: z.number().min(0).default(2),
      })
      .strict()
      .default({}),
    ratelimit: z
      .object({
        driver: sharedDriver,
        apiKey: rateRule(1_000, 2_000), // per server API key
        user: rateRule(20, 40), // per uid of a user token
      })
      .strict()
      .default({}),
    shutdown: z
      .object({ graceSeconds: z.number().positive().default(10) })
      .strict()
      .default({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type RedisConfig = Config['redis'];

import { z } from 'zod';

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

export const configSchema = z
  .object({
    node: z
      .object({
        /** Node id in discovery and the registry; empty = `<role>-<hostname>-<pid>`. */
        id: z.string().default(''),
      })
      .strict()
      .default({}),
    log: z
      .object({
        level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
        pretty: z.boolean().default(false),
        file: z.string().default(''), // rotate daily into this file when set (issue 8)
      })
      .strict()
      .default({}),
    auth: z
      .object({
        /** Server API keys: act for any uid. None by default outside the all-in-one config. */
        apiKeys: z.array(z.string().min(12, 'an API key needs at least 12 characters')).default([]),
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
      })
      .strict()
      .default({}),
    business: z
      .object({
        http: listen(8080),
        maxMessageBytes: z.number().int().positive().default(16_384), // serialised content limit
        maxBatch: z.number().int().positive().max(5000).default(500), // messages per POST /v1/messages/batch
        openMessaging: z.boolean().default(false), // allow any user-to-user message (issue 4)
        dispatchTimeoutMs: z.number().int().positive().default(5_000), // per dispatcher call
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

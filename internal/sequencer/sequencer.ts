// Per-conversation sequence numbers. DESIGN §5: Redis `courier:seq:{conversation}` (INCR), seeded from the
// store's last seq when the key is missing, so numbers continue after a Redis loss instead of restarting.

export interface Sequencer {
  /** Reserves the next `count` numbers of a conversation and returns the first of them. */
  next(conversation: string, count?: number): Promise<number>;
  close(): Promise<void>;
}

/** Reads the highest stored seq of a conversation (0 when it has none); the seed after a cold start. */
export type LastSeqSource = (conversation: string) => Promise<number>;

// Store errors besides DuplicateClientMsgIdError (which is part of the Store interface in store.ts).

/** `append` was given a (conversation, seq) that is already stored: the sequencer handed out a number twice. */
export class DuplicateSeqError extends Error {
  override readonly name = 'DuplicateSeqError';
  readonly code = 'duplicate_seq';
  constructor(
    readonly conversation: string,
    readonly seq: number,
    options?: { cause?: unknown },
  ) {
    super(`conversation ${conversation} already has a message with seq ${seq}`, options);
  }
}

/** `append` was given a message id that is already stored (under another conversation or seq). */
export class DuplicateMessageIdError extends Error {
  override readonly name = 'DuplicateMessageIdError';
  readonly code = 'duplicate_message_id';
  constructor(
    readonly id: string,
    options?: { cause?: unknown },
  ) {
    super(`message id ${id} is already stored`, options);
  }
}

/** The store cannot start with its configuration; `key` names the config key to fix. */
export class StoreConfigError extends Error {
  override readonly name = 'StoreConfigError';
  readonly code = 'store_config';
  constructor(
    readonly key: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${key}: ${message}`, options);
  }
}

/** `append` was called after `close()`. */
export class StoreClosedError extends Error {
  override readonly name = 'StoreClosedError';
  readonly code = 'store_closed';
  constructor() {
    super('the message store is closed');
  }
}

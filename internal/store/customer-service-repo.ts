// Customer-service conversations: assignment of an agent from a merchant's pool and hand-over between
// agents. Runs inside the caller's transaction; KyselyStore supplies it.
import type { Kysely, Transaction } from 'kysely';
import { CourierError } from '../errors.js';
import type { StoreDialect } from './dialect.js';
import { rowToConversation } from './rows.js';
import type { Database } from './schema.js';
import type {
  AgentChooser,
  Assignment,
  Conversation,
  CustomerServiceRequest,
  MerchantAgent,
} from './store.js';

type Db = Kysely<Database> | Transaction<Database>;

async function addMembers(trx: Transaction<Database>, dialect: StoreDialect, id: string, uids: string[]) {
  if (uids.length === 0) return;
  const now = Date.now();
  await trx
    .insertInto('members')
    .values(uids.map((uid) => ({ conversation: id, uid, joined_at: now, read_seq: 0 })))
    .modifyEnd(dialect.ignoreDuplicates('uid'))
    .execute();
}

export async function countSessions(
  db: Db,
  merchant: string,
  agents: string[],
  activeSince?: number,
): Promise<Map<string, number>> {
  const counts = new Map(agents.map((a) => [a, 0]));
  if (agents.length === 0) return counts;
  let query = db
    .selectFrom('conversations')
    .select((eb) => ['agent', eb.fn.countAll<number | string>().as('sessions')])
    .where('merchant', '=', merchant)
    .where('kind', '=', 'customer_service')
    .where('agent', 'in', agents);
  if (activeSince !== undefined) query = query.where('updated_at', '>=', activeSince);
  const rows = await query.groupBy('agent').execute();
  for (const row of rows) if (row.agent !== null) counts.set(row.agent, Number(row.sessions));
  return counts;
}

/** Gives a locked customer-service conversation row to `agent`: membership follows the agent. */
export async function replaceAgent(
  trx: Transaction<Database>,
  dialect: StoreDialect,
  current: Conversation,
  agent: string,
): Promise<Conversation> {
  if (current.kind !== 'customer_service') {
    throw new CourierError('invalid_request', `conversation ${current.id} has no agent to replace`);
  }
  if (current.agent === agent) return current;
  const members = current.members.filter((m) => m !== current.agent);
  if (!members.includes(agent)) members.push(agent);
  // A hand-over is activity: the conversation moves to the top of the new agent's list.
  const updatedAt = Math.max(current.updatedAt, Date.now());
  await trx
    .updateTable('conversations')
    .set({ agent, members: JSON.stringify(members), updated_at: updatedAt })
    .where('id', '=', current.id)
    .execute();
  if (current.agent !== null) {
    await trx
      .deleteFrom('members')
      .where('conversation', '=', current.id)
      .where('uid', '=', current.agent)
      .execute();
  }
  await addMembers(trx, dialect, current.id, [agent]);
  return { ...current, agent, members, updatedAt };
}

/** The conversation row, locked for the rest of the transaction where the database has row locks. */
export async function lockedConversation(
  trx: Transaction<Database>,
  dialect: StoreDialect,
  id: string,
): Promise<Conversation | undefined> {
  let query = trx.selectFrom('conversations').selectAll().where('id', '=', id);
  if (dialect.rowLocks) query = query.forUpdate();
  const row = await query.executeTakeFirst();
  return row && rowToConversation(row);
}

export async function assignCustomerService(
  trx: Transaction<Database>,
  dialect: StoreDialect,
  req: CustomerServiceRequest,
  choose: AgentChooser,
): Promise<Assignment> {
  // The merchant's pool rows are locked first, so every assignment of one merchant queues here, on every
  // node: loads read below cannot change before this transaction commits. This is also the first read of
  // the transaction, so the (MySQL REPEATABLE READ) snapshot of the plain reads below starts after the
  // lock is held and sees every earlier holder's commit. SQLite serialises transactions on its connection.
  let poolQuery = trx
    .selectFrom('merchant_agents')
    .select(['uid', 'max_sessions'])
    .where('merchant', '=', req.merchant)
    .orderBy('uid');
  if (dialect.rowLocks) poolQuery = poolQuery.forUpdate();
  const pool: MerchantAgent[] = (await poolQuery.execute()).map((r) => ({
    uid: r.uid,
    maxSessions: Number(r.max_sessions),
  }));

  // A plain read first: FOR UPDATE on a missing row would take a gap lock that blocks unrelated inserts.
  const seen = await trx.selectFrom('conversations').select('id').where('id', '=', req.id).executeTakeFirst();
  const existing = seen ? await lockedConversation(trx, dialect, req.id) : undefined;
  if (existing && existing.agent !== null && pool.some((a) => a.uid === existing.agent)) {
    return { conversation: existing, assigned: false, previousAgent: null };
  }

  const counts = await countSessions(
    trx,
    req.merchant,
    pool.map((a) => a.uid),
    req.activeSince,
  );
  const agent = choose(pool.map((a) => ({ ...a, sessions: counts.get(a.uid) ?? 0 })));
  if (!pool.some((a) => a.uid === agent)) throw new Error(`chooser picked ${agent}, not in the pool`);

  if (existing) {
    const conversation = await replaceAgent(trx, dialect, existing, agent);
    return { conversation, assigned: true, previousAgent: existing.agent };
  }
  const now = Date.now();
  const members = [req.customer, agent];
  await trx
    .insertInto('conversations')
    .values({
      id: req.id,
      kind: 'customer_service',
      members: JSON.stringify(members),
      merchant: req.merchant,
      agent,
      last_seq: 0,
      created_at: now,
      updated_at: now,
    })
    .execute();
  await addMembers(trx, dialect, req.id, members);
  const conversation: Conversation = {
    id: req.id,
    kind: 'customer_service',
    members,
    merchant: req.merchant,
    agent,
    lastSeq: 0,
    createdAt: now,
    updatedAt: now,
  };
  return { conversation, assigned: true, previousAgent: null };
}

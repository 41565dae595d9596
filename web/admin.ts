import { AdminApi, ApiError, type BanKind } from './admin/api.js';
import { renderCluster } from './admin/cluster-panel.js';
import { byId, h } from './lib/dom.js';

// The operator's dashboard at /admin: sign in with an admin key (kept for this tab only), then the live
// cluster view (refreshed every few seconds), a user's devices with a kick button, bans, and the
// sensitive-word list. Everything goes to this page's own origin.

const REFRESH_MS = 5_000;
const KEY_STORAGE = 'courier-admin-key';

const status = byId('status');
const loginForm = byId<HTMLFormElement>('login');
const keyInput = byId<HTMLInputElement>('admin-key');
const loginError = byId('login-error');
const signOut = byId<HTMLButtonElement>('sign-out');
const dashboard = byId('dashboard');
const notice = byId('notice');
const cluster = {
  summary: byId('summary'),
  nodes: byId('nodes').querySelector('tbody') as HTMLElement,
  traffic: byId('traffic').querySelector('tbody') as HTMLElement,
  chart: document.getElementById('chart') as unknown as SVGSVGElement,
  updated: byId('updated'),
};

let api: AdminApi | null = null;
let timer: number | undefined;

loginForm.addEventListener('submit', (event) => {
  event.preventDefault();
  signIn(keyInput.value.trim()).catch(report(loginError));
});
signOut.addEventListener('click', () => {
  sessionStorage.removeItem(KEY_STORAGE);
  window.clearInterval(timer);
  api = null;
  dashboard.hidden = true;
  loginForm.hidden = false;
  signOut.hidden = true;
  setStatus('Signed out', 'closed');
});

const saved = sessionStorage.getItem(KEY_STORAGE);
if (saved) signIn(saved).catch(report(loginError));

async function signIn(key: string): Promise<void> {
  loginError.textContent = '';
  const candidate = new AdminApi(key);
  try {
    renderCluster(await candidate.cluster(), cluster);
  } catch (err) {
    sessionStorage.removeItem(KEY_STORAGE);
    if (err instanceof ApiError && err.status === 401) throw new Error('That admin key is not accepted.');
    throw err;
  }
  api = candidate;
  sessionStorage.setItem(KEY_STORAGE, key);
  keyInput.value = '';
  loginForm.hidden = true;
  dashboard.hidden = false;
  signOut.hidden = false;
  setStatus('Signed in', 'open');
  await Promise.all([loadBans(), loadWords()]);
  timer = window.setInterval(() => void refresh(), REFRESH_MS);
}

async function refresh(): Promise<void> {
  if (!api || document.hidden) return;
  try {
    renderCluster(await api.cluster(), cluster);
    setStatus('Signed in', 'open');
  } catch (err) {
    setStatus(`Cluster view failed: ${message(err)}`, 'reconnecting');
  }
}

function setStatus(text: string, state: 'open' | 'reconnecting' | 'closed'): void {
  status.textContent = text;
  status.dataset.state = state;
}

// ---- users: devices and kick ----

const lookupForm = byId<HTMLFormElement>('lookup');
const lookupUid = byId<HTMLInputElement>('lookup-uid');
const devices = byId<HTMLTableElement>('devices');

lookupForm.addEventListener('submit', (event) => {
  event.preventDefault();
  showDevices(lookupUid.value.trim()).catch(report(notice));
});

async function showDevices(uid: string): Promise<void> {
  if (!api || !uid) return;
  const answer = await api.devices(uid);
  byId('devices-caption').textContent =
    answer.devices.length === 0 ? `${uid} has no open connection` : `Connections of ${uid}`;
  devices.hidden = false;
  devices.tBodies[0]?.replaceChildren(
    ...answer.devices.map((d) => {
      const kick = h('button', { type: 'button', class: 'secondary small', text: 'Kick' });
      kick.setAttribute('aria-label', `Kick ${d.connId}`);
      kick.addEventListener('click', () => kickDevice(uid, d.connId).catch(report(notice)));
      return h(
        'tr',
        { 'data-conn': d.connId },
        h('td', { class: 'mono', text: d.connId }),
        h('td', { text: d.platform }),
        h('td', { text: d.worker }),
        h('td', { class: 'mono', text: d.ip }),
        h('td', { text: new Date(d.since).toLocaleTimeString() }),
        h('td', {}, kick),
      );
    }),
  );
}

async function kickDevice(uid: string, connId: string): Promise<void> {
  if (!api) return;
  const { closed } = await api.kick(uid, connId);
  notice.textContent = closed > 0 ? `Kicked ${connId}.` : `${connId} was no longer connected.`;
  // Dropped here rather than looked up again: the worker removes the registry entry a moment later.
  for (const row of Array.from(devices.querySelectorAll('tbody tr'))) {
    if ((row as HTMLElement).dataset.conn === connId) row.remove();
  }
  if (devices.tBodies[0]?.rows.length === 0)
    byId('devices-caption').textContent = `${uid} has no open connection`;
}

// ---- bans ----

const banForm = byId<HTMLFormElement>('ban-form');
const bansBody = byId<HTMLTableElement>('bans').tBodies[0] as HTMLTableSectionElement;

banForm.addEventListener('submit', (event) => {
  event.preventDefault();
  addBan().catch(report(notice));
});

async function addBan(): Promise<void> {
  if (!api) return;
  const kind = byId<HTMLSelectElement>('ban-kind').value as BanKind;
  const id = byId<HTMLInputElement>('ban-id').value.trim();
  const minutes = Number(byId<HTMLInputElement>('ban-minutes').value);
  const reason = byId<HTMLInputElement>('ban-reason').value.trim();
  await api.ban(kind, id, Math.round(minutes * 60), reason);
  notice.textContent = `Banned ${id} for ${minutes} minutes.`;
  banForm.reset();
  await loadBans();
}

async function loadBans(): Promise<void> {
  if (!api) return;
  const list = await api.bans();
  const rows = (['uids', 'ips'] as const).flatMap((kind) =>
    list[kind].map((ban) => {
      const remove = h('button', { type: 'button', class: 'secondary small', text: 'Remove' });
      remove.setAttribute('aria-label', `Remove the ban of ${ban.id}`);
      remove.addEventListener('click', () => removeBan(kind, ban.id).catch(report(notice)));
      return h(
        'tr',
        { 'data-ban': ban.id },
        h('td', { text: kind === 'uids' ? 'user' : 'IP' }),
        h('td', { class: 'mono', text: ban.id }),
        h('td', { text: ban.auto ? `${ban.reason} (automatic)` : ban.reason }),
        h('td', { text: new Date(ban.expiresAt).toLocaleString() }),
        h('td', {}, remove),
      );
    }),
  );
  bansBody.replaceChildren(
    ...(rows.length > 0 ? rows : [h('tr', {}, h('td', { colspan: 5, text: 'Nobody is banned.' }))]),
  );
}

async function removeBan(kind: BanKind, id: string): Promise<void> {
  if (!api) return;
  await api.unban(kind, id);
  notice.textContent = `Removed the ban of ${id}.`;
  await loadBans();
}

// ---- sensitive words ----

const wordsForm = byId<HTMLFormElement>('words-form');
const wordsText = byId<HTMLTextAreaElement>('words');
const wordsMode = byId<HTMLSelectElement>('words-mode');

wordsForm.addEventListener('submit', (event) => {
  event.preventDefault();
  saveWords().catch(report(notice));
});

async function loadWords(): Promise<void> {
  if (!api) return;
  const list = await api.words();
  wordsText.value = list.words.join('\n');
  wordsMode.value = list.mode;
}

async function saveWords(): Promise<void> {
  if (!api) return;
  const words = wordsText.value
    .split('\n')
    .map((w) => w.trim())
    .filter((w) => w.length > 0);
  const saved = await api.putWords({ words, mode: wordsMode.value === 'reject' ? 'reject' : 'mask' });
  wordsText.value = saved.words.join('\n');
  notice.textContent = `Saved ${saved.words.length} words (${saved.mode}).`;
}

// ---- errors ----

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Shows a failed action's message where the user is looking, instead of losing it in the console. */
function report(where: HTMLElement): (err: unknown) => void {
  return (err) => {
    where.textContent = message(err);
  };
}

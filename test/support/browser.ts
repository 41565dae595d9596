// Headless Chromium for the web page tests: Debian's `chromium` driven by playwright-core (installed by the
// test setup when missing), pages checked for requests that leave the demo's own origins, and screenshots
// written to test-output/ (gitignored).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { TestCourier } from './courier.js';
import { ensureBinary } from './servers.js';

export const CHROMIUM = '/usr/bin/chromium';
/** Screenshots and other artefacts; this file runs as dist/test/support/browser.js. */
export const OUTPUT_DIR = fileURLToPath(new URL('../../../test-output/', import.meta.url));

export async function launchChromium(): Promise<Browser> {
  ensureBinary('chromium', 'chromium');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(OUTPUT_DIR, { recursive: true });
  const path = join(OUTPUT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * Records what a page asks for outside `origins` (HTTP requests and WebSockets alike), plus uncaught page
 * errors: the pages promise no external requests, and a thrown error is a bug even if the test passes.
 */
export function watchPage(page: Page, origins: () => string[]): { external: string[]; errors: string[] } {
  const seen = { external: [] as string[], errors: [] as string[] };
  const check = (url: string) => {
    const u = new URL(url);
    if (u.protocol === 'data:' || u.protocol === 'about:') return;
    if (!origins().some((o) => new URL(o).host === u.host)) seen.external.push(url);
  };
  page.on('request', (req) => check(req.url()));
  page.on('websocket', (ws) => check(ws.url()));
  page.on('pageerror', (err) => seen.errors.push(String(err)));
  return seen;
}

/** Form controls without a label, buttons without a name: what a screen reader user could not operate. */
export function unlabelled(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const bad: string[] = [];
    for (const el of Array.from(document.querySelectorAll<HTMLInputElement>('input, select, textarea'))) {
      if (el.type === 'hidden' || el.closest('[hidden]')) continue;
      if ((el.labels?.length ?? 0) === 0 && !el.getAttribute('aria-label'))
        bad.push(el.outerHTML.slice(0, 80));
    }
    for (const el of Array.from(document.querySelectorAll('button, a[href]'))) {
      if (el.closest('[hidden]')) continue;
      if (!el.textContent?.trim() && !el.getAttribute('aria-label')) bad.push(el.outerHTML.slice(0, 80));
    }
    return bad;
  });
}

/** True when the page scrolls sideways (not usable at that width). */
export function overflowsHorizontally(page: Page): Promise<boolean> {
  return page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
}

// Driving the demo pages like a person would: labels, buttons, the Enter key.

export const MERCHANT = 'demo-shop';
export const AGENTS = ['agent-ann', 'agent-ben']; // as seeded in configs/courier.yaml
export const WAIT_MS = 15_000; // for anything the page should show; generous for a loaded CI machine

/** The all-in-one with the demo login on and a seeded merchant with two agents, as configs/courier.yaml has. */
export function startDemoCourier(overrides: Record<string, unknown> = {}): Promise<TestCourier> {
  return TestCourier.start({
    ...overrides,
    business: {
      demoLogin: true,
      seed: { merchants: [{ id: MERCHANT, agents: AGENTS.map((uid) => ({ uid, maxSessions: 50 })) }] },
    },
  });
}

export interface OpenPage {
  page: Page;
  context: BrowserContext;
  seen: { external: string[]; errors: string[] };
}

/** A page in its own browser context: a separate window with its own storage, like a second person. */
export async function openPage(
  browser: Browser,
  courier: TestCourier,
  path: string,
  viewport = { width: 1100, height: 800 },
  origins = () => [courier.baseUrl, courier.wsUrl],
): Promise<OpenPage> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const seen = watchPage(page, origins);
  await page.goto(courier.baseUrl + path);
  return { page, context, seen };
}

export async function connected(page: Page): Promise<void> {
  await page.locator('#status[data-state="open"]').waitFor({ timeout: WAIT_MS });
}

export async function shopperSignsIn(page: Page, uid: string): Promise<void> {
  await page.getByLabel('Your demo name').fill(uid);
  await page.getByLabel('Shop').selectOption(MERCHANT);
  await page.getByRole('button', { name: 'Start chat' }).click();
  await connected(page);
}

export async function agentSignsIn(page: Page, uid: string): Promise<void> {
  await page.getByLabel('Agent', { exact: true }).selectOption(uid);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await connected(page);
}

/** Types into the composer and presses Enter, as a keyboard user does. */
export async function typeAndSend(page: Page, text: string): Promise<void> {
  const box = page.locator('#text');
  await box.fill(text);
  await box.press('Enter');
}

export interface Shown {
  seq: number;
  text: string;
  mine: boolean;
  status: string;
}

/** The messages a page shows, top to bottom (pending ones have seq 0). */
export function shown(page: Page): Promise<Shown[]> {
  return page.$$eval('#messages li', (items) =>
    items.map((li) => ({
      seq: Number((li as HTMLElement).dataset.seq ?? 0),
      text: li.querySelector('.bubble')?.textContent ?? '',
      mine: li.classList.contains('mine'),
      status: li.querySelector('.status')?.textContent ?? '',
    })),
  );
}

/** Waits until `check` holds for the messages shown; fails with what was shown instead. */
export async function untilShown(page: Page, what: string, check: (m: Shown[]) => boolean): Promise<Shown[]> {
  const deadline = Date.now() + WAIT_MS;
  let last: Shown[] = [];
  while (Date.now() < deadline) {
    last = await shown(page);
    if (check(last)) return last;
    // Wakes on the next change of the list (or after a second), instead of polling on a fixed beat.
    await page
      .waitForFunction(
        (before) => (document.querySelector('#messages')?.innerHTML ?? '') !== before,
        await page.$eval('#messages', (el) => el.innerHTML),
        { timeout: 1_000 },
      )
      .catch(() => undefined);
  }
  throw new Error(`${what}: not shown within ${WAIT_MS} ms; the page shows ${JSON.stringify(last)}`);
}

/** The agent console's entry for a conversation with `peer`, with its unread count. */
export function customerButton(page: Page, peer: string) {
  return page.locator('button.conversation', { has: page.locator('.peer', { hasText: peer }) });
}

export async function untilUnread(page: Page, peer: string, unread: number): Promise<void> {
  await customerButton(page, peer)
    .and(page.locator(`[data-unread="${unread}"]`))
    .waitFor({ timeout: WAIT_MS });
}

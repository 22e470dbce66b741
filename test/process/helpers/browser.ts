/**
 * A real browser for the page tests: Debian's chromium (installed by tools/install-browser.sh, which `npm test`
 * runs before the process tests), driven headless through playwright-core.
 *
 * One browser per test file: the first `openPage` launches it, `closeBrowser()` (call it in the file's `after`)
 * ends it. Each `openPage` gets its own context, so pages of one file share nothing but the process.
 * Every console error and uncaught page error is collected: a page test asserts the list is empty.
 * Tests read pages through locators (which wait for what they name), not by evaluating strings: the pages'
 * content security policy forbids eval, and the tests compile without the DOM's types.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

/** The browser: CHATTERBOX_CHROMIUM if set (another machine's Chromium), else Debian's. */
export const CHROMIUM = process.env['CHATTERBOX_CHROMIUM'] ?? '/usr/bin/chromium';

/** Where screenshots go (committed, shown in the README): docs/pictures/ of the checkout. */
export const PICTURES_DIR = fileURLToPath(new URL('../../../../docs/pictures/', import.meta.url));

/** A page's console errors and page errors kept: enough to show what went wrong, bounded for a page that loops. */
const MAX_ERRORS_KEPT = 100;

let browser: Promise<Browser> | undefined;

function theBrowser(): Promise<Browser> {
  if (browser === undefined) {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`no browser at ${CHROMIUM}: run tools/install-browser.sh (npm test does), or set CHATTERBOX_CHROMIUM`);
    }
    // --no-sandbox: the tests run as root in CI containers, where Chromium's sandbox refuses to start.
    browser = chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  }
  return browser;
}

export interface OpenedPage {
  readonly page: Page;
  /** Console messages of type error and uncaught exceptions, in order, as text. */
  readonly consoleErrors: string[];
  close(): Promise<void>;
}

/** Opens `target` (an http(s), file, about: or data: URL, or a file path) in a fresh context of this file's browser. */
export async function openPage(target: string): Promise<OpenedPage> {
  const context = await (await theBrowser()).newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  const consoleErrors: string[] = [];
  const keep = (text: string): void => {
    if (consoleErrors.length < MAX_ERRORS_KEPT) consoleErrors.push(text);
  };
  page.on('console', (message) => {
    if (message.type() === 'error') keep(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => keep(`page error: ${error.message}`));
  const url = /^(https?|file|about|data):/.test(target) ? target : pathToFileURL(isAbsolute(target) ? target : resolve(target)).href;
  await page.goto(url);
  return { page, consoleErrors, close: () => context.close() };
}

/** Saves docs/pictures/<name>.png, only when CHATTERBOX_SCREENSHOTS=1 (the pictures are committed, not remade every run). */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (process.env['CHATTERBOX_SCREENSHOTS'] !== '1') return;
  mkdirSync(PICTURES_DIR, { recursive: true });
  await page.screenshot({ path: `${PICTURES_DIR}${name}.png`, fullPage: true });
}

/** Ends this file's browser; call in `after`. */
export async function closeBrowser(): Promise<void> {
  const launched = browser;
  browser = undefined;
  if (launched !== undefined) await (await launched).close();
}

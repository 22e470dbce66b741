/**
 * The browser helper every page test stands on (test/process/helpers/browser.ts): it must see what a page shows
 * and report every console error and uncaught exception, or a page test asserting "no errors" could never fail.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { closeBrowser, openPage } from './helpers/browser.js';

describe('browser helper', { concurrency: 1 }, () => {
  after(closeBrowser);
  const dir = mkdtempSync(join(tmpdir(), 'chatterbox-browser-'));

  test('a clean page reports no errors, and its text is there', async () => {
    const file = join(dir, 'clean.html');
    writeFileSync(file, '<!doctype html><title>t</title><p id="x">hello</p><script>document.getElementById("x").textContent += " world";</script>');
    const opened = await openPage(file);
    try {
      assert.equal(await opened.page.textContent('#x'), 'hello world');
      assert.deepEqual(opened.consoleErrors, []);
    } finally {
      await opened.close();
    }
  });

  test('console errors and uncaught exceptions are collected', async () => {
    const file = join(dir, 'broken.html');
    writeFileSync(file, '<!doctype html><title>t</title><script>console.error("bad thing"); undefinedFunction();</script>');
    const opened = await openPage(file);
    try {
      assert.equal(opened.consoleErrors.length, 2, opened.consoleErrors.join('\n'));
      assert.match(opened.consoleErrors[0]!, /bad thing/);
      assert.match(opened.consoleErrors[1]!, /undefinedFunction/);
    } finally {
      await opened.close();
    }
  });
});

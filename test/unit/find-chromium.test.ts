/** The Web UI test's browser: found where Debian puts it, or a failure that says how to get one. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findChromium } from '../support/browser.js';

test('without Chromium the Web UI test fails saying how to install it', () => {
  assert.throws(() => findChromium({ PATH: '/nonexistent' }, []), /apt-get install chromium.*SALIFLOW_CHROMIUM/);
  assert.throws(
    () => findChromium({ SALIFLOW_CHROMIUM: '/nonexistent/chrome' }),
    /SALIFLOW_CHROMIUM=\/nonexistent\/chrome is not an executable/,
  );
});

test('SALIFLOW_CHROMIUM, then the known paths, then PATH', () => {
  assert.equal(findChromium({ SALIFLOW_CHROMIUM: process.execPath }), process.execPath);
  assert.equal(findChromium({ PATH: '' }, [process.execPath]), process.execPath);
});

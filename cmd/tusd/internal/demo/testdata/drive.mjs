// Drives the demo page in headless Chromium for browser_test.go and prints
// what it saw as JSON on stdout; the Go test checks the server's side.
//
// Scenarios (DEMO_SCENARIO):
//   - pause-resume: upload a file, pause and resume it on the page, pause
//     again, reload the page and finish the upload from where the server
//     stopped.
//   - refused: start an upload the server refuses and read the error shown.
//   - network-error: upload a file while the server drops the connection
//     of PATCH requests until the page retries with HEAD.
//
// Environment: DEMO_URL (the page), DEMO_FILE (the file to upload),
// DEMO_SCREENSHOT (PNG to write at the end; pause-resume also takes one
// mid-upload, at DEMO_SCREENSHOT_RUNNING if set, else with -running before
// .png), DEMO_PROBE (pause-resume: URL
// prefix that, followed by an upload ID, answers the stored offset),
// DEMO_CHROMIUM (the browser), DEMO_NODE_DIR (a directory whose
// node_modules has playwright-core).
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

const scenario = env('DEMO_SCENARIO');
const pageURL = env('DEMO_URL');
const file = env('DEMO_FILE');
const screenshot = env('DEMO_SCREENSHOT');
const require = createRequire(path.join(env('DEMO_NODE_DIR'), 'package.json'));
const { chromium } = require('playwright-core');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const scenarios = {
  async 'pause-resume'(page) {
    const probeURL = env('DEMO_PROBE');
    const progress = () => page.evaluate(() => document.getElementById('bar').value);
    const uploadURL = () => page.evaluate(() => {
      for (let i = 0; i < localStorage.length; i++) {
        const key = localStorage.key(i);
        if (key.startsWith('tusd-demo ')) return localStorage.getItem(key);
      }
      return '';
    });

    // The stored offset, read by the Go test from the store: unlike a tus
    // HEAD, this takes no lock, so it cannot cut off a PATCH the page
    // failed to abort.
    async function serverOffset(url) {
      const res = await fetch(probeURL + url.split('/').pop());
      if (res.status !== 200) throw new Error(`probe of ${url}: ${res.status}`);
      return Number(await res.text());
    }

    // pauseAbove waits until the page's progress passes fraction, clicks
    // Pause, and reports what the page says and where the server stopped.
    // The page counts what the browser handed to the network, which the
    // (slowed) server reads later.
    async function pauseAbove(fraction, shot) {
      await page.waitForFunction((f) => document.getElementById('bar').value > f, fraction);
      if (shot) await page.screenshot({ path: shot });
      const atClick = await progress();
      await page.click('#pause');
      await page.waitForFunction(() => document.getElementById('demo').dataset.state === 'paused');
      const status = await page.textContent('#status');
      const url = await uploadURL();
      // Wait for the server to store what it read before the abort: until
      // two answers half a second apart agree, then check once more later.
      let offset = await serverOffset(url);
      for (let i = 0; i < 60; i++) {
        await sleep(500);
        const next = await serverOffset(url);
        if (next === offset) break;
        offset = next;
      }
      await sleep(1500);
      const later = await serverOffset(url);
      return { progress: atClick, status, url, serverOffset: offset, laterOffset: later };
    }

    await page.goto(pageURL);
    await page.setInputFiles('#file', file);
    await page.click('#start');
    // Each pause comes about 3 MiB into one of the page's 8 MiB PATCH
    // requests, so that the browser still holds bytes of it when Pause
    // aborts it: the Go test checks the PATCH was cut short.
    const size = statSync(file).size;
    const into = 3 << 20;
    const pauses = [await pauseAbove(into / size)];

    await page.click('#resume');
    // A second picture, while the upload runs, named after the first.
    const running = process.env.DEMO_SCREENSHOT_RUNNING || screenshot.replace(/(\.png)?$/, '-running.png');
    pauses.push(await pauseAbove((pauses[0].serverOffset + into) / size, running));

    // A reload forgets everything but localStorage: picking the same file
    // again offers to go on, and Start does.
    await page.reload();
    await page.setInputFiles('#file', file);
    const reloadStatus = await page.textContent('#status');
    await page.click('#start');

    await page.waitForSelector('#result:not([hidden])', { timeout: 120_000 });
    return {
      pauses,
      reloadStatus,
      link: await page.getAttribute('#link', 'href'),
      linkText: await page.textContent('#link'),
      finalStatus: await page.textContent('#status'),
      percent: await page.textContent('#percent'),
      rememberedAfter: await uploadURL(),
    };
  },

  async 'network-error'(page) {
    await page.goto(pageURL);
    await page.setInputFiles('#file', file);
    await page.click('#start');
    await page.waitForFunction(() => document.getElementById('status').textContent.includes('Trying again'));
    const retryStatus = await page.textContent('#status');
    await page.waitForSelector('#result:not([hidden])');
    return {
      retryStatus,
      link: await page.getAttribute('#link', 'href'),
      finalStatus: await page.textContent('#status'),
    };
  },

  async refused(page) {
    await page.goto(pageURL);
    await page.setInputFiles('#file', file);
    await page.click('#start');
    await page.waitForFunction(() => document.getElementById('demo').dataset.state === 'failed');
    return {
      finalStatus: await page.textContent('#status'),
      resumeEnabled: await page.isEnabled('#resume'),
    };
  },
};

const browser = await chromium.launch({
  executablePath: env('DEMO_CHROMIUM'),
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 760, height: 620 } });
  page.setDefaultTimeout(60_000);
  const consoleErrors = [];
  const pageErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  if (!scenarios[scenario]) throw new Error(`unknown scenario ${scenario}`);
  const result = await scenarios[scenario](page);
  await page.screenshot({ path: screenshot, fullPage: true });
  process.stdout.write(JSON.stringify({ ...result, consoleErrors, pageErrors }) + '\n');
} finally {
  await browser.close();
}

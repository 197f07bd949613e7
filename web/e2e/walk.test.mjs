// What a person hit using the web client by hand, at phone (390 px) and
// desktop (1280 px) widths, in Chinese and English (a walk-through of the
// daily driver after issue 17): each defect found is driven here as it was
// met. Set-up that is not what a test is about goes through the API.
//
// Run from web/: `TKESJ_BIN=/tmp/tkesj node --test e2e/walk.test.mjs`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { befriend, browser, direct, log, openChat, people, send, server, signedIn as signedInAt, textMatches, until } from './harness.mjs';

const composer = (page, name = 'Message') => page.getByLabel(name, { exact: true });

/** A fresh person through the API, with a unique phone and username. */
const person = people('137016', 'wk');

/** A browser context signed in with the person's token, 390 × 844 unless told. */
const signedIn = (who, o = {}) => signedInAt(who, { width: 390, height: 844, ...o });

test('a long chat name stays on one line in the chat header, at phone and desktop widths, in Chinese', { timeout: 90_000 }, async () => {
  const ann = await person('Ann Long');
  const li = await person('李雷');
  await befriend(ann, li);
  const name = '周末爬山 🏔️ Weekend hike group with a fairly long name';
  const g = await ann.call('POST', '/api/v1/conversations', { kind: 'group', name, members: [li.user.id] });
  await send(ann, g.id, '周六早上八点集合');
  const l = await signedIn(li, { lang: 'zh', locale: 'zh-CN' });
  await openChat(l.page, g.id);
  await log(l.page).getByText('周六早上八点集合').waitFor();
  const h1 = l.page.getByRole('heading', { level: 1, name });
  for (const width of [390, 1280]) {
    await l.page.setViewportSize({ width, height: width === 390 ? 844 : 800 });
    // It wrapped to five lines on a phone (150 px), the call buttons squeezed
    // beside it and the log pushed down; now it is one line, ellipsised, and
    // the whole name is its tooltip.
    const box = await h1.boundingBox();
    assert.ok(box && box.height < 40, `${width} px: the title is ${box?.height} px high`);
    assert.ok(box.y >= 0, `${width} px: the title starts above the page (${box.y})`);
    if (width === 390) assert.ok(await h1.evaluate((el) => el.scrollWidth > el.clientWidth), 'the name is cut, not wrapped');
    assert.equal(await h1.getAttribute('title'), name);
  }
  // Nor does the one long line widen the chat's pane at the list's cost.
  const list = await l.page.locator('.split-list').boundingBox();
  assert.ok(list && list.width >= 379, `the chat list is ${list?.width} px wide beside a long name, not 380`);
  assert.deepEqual(l.problems, []);
  await l.context.close();
});

/** A real PNG of the given size (a screenshot of a coloured page). */
async function pngBytes(w, h, color) {
  const ctx = await browser.newContext({ viewport: { width: w, height: h } });
  const page = await ctx.newPage();
  await page.setContent(`<body style="margin:0;background:${color}"></body>`);
  const buf = await page.screenshot();
  await ctx.close();
  return buf;
}

test('a picture being sent shows itself while it uploads, not "[Picture]"', { timeout: 90_000 }, async () => {
  const ann = await person('Ann Pic');
  const ben = await person('Ben Pic');
  await befriend(ann, ben);
  const conv = await direct(ann, ben);
  const a = await signedIn(ann);
  // A slow connection: the upload takes three seconds.
  let uploads = 0;
  await a.context.route(/\/api\/v1\/media$/, async (route) => {
    uploads++;
    await new Promise((r) => setTimeout(r, 3_000));
    await route.continue();
  });
  await openChat(a.page, conv);
  await a.page.locator('input[type=file][accept^="image/"]').setInputFiles({ name: 'hike.png', mimeType: 'image/png', buffer: await pngBytes(300, 400, '#c60') });
  const row = log(a.page).locator('[data-outbox]');
  await until('the upload to start', () => uploads === 1);
  // While it uploads, the row shows the picture itself (from the file).
  const img = row.locator('img');
  await img.waitFor();
  assert.match(await img.getAttribute('src'), /^blob:/);
  await until('the preview to load', () => img.evaluate((el) => el.complete && el.naturalWidth === 300));
  assert.equal(await row.count(), 1, 'still uploading');
  // Once sent, it is the message's own thumbnail.
  await until('the outbox to empty', async () => (await row.count()) === 0);
  await log(a.page).locator('.msg.mine img').waitFor();
  assert.deepEqual(a.problems, []);
  await a.context.close();
});

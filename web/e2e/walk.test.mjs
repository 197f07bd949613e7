// What a person hit using the web client by hand, at phone (390 px) and
// desktop (1280 px) widths, in Chinese and English (a walk-through of the
// daily driver after issue 17): each defect found is driven here as it was
// met. Set-up that is not what a test is about goes through the API.
//
// Run from web/: `TKESJ_BIN=/tmp/tkesj node --test e2e/walk.test.mjs`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  alert,
  befriend,
  browser,
  codeFor,
  direct,
  log,
  openChat,
  people,
  pngBytes,
  send,
  server,
  signedIn as signedInAt,
  signedOut,
  sms,
  status,
  textMatches,
  until,
} from './harness.mjs';

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

test('desktop: a chat picked low in a long list leaves the list where it was; nothing of one chat (draft, quote, read receipts) follows into the next', { timeout: 150_000 }, async () => {
  const me = await person('Many Chats');
  const friends = [];
  for (let i = 1; i <= 14; i++) {
    const f = await person(`Friend ${i}`);
    await befriend(me, f);
    const conv = await direct(me, f);
    await send(f, conv, `hello from friend ${i}`);
    // Her chat with friend 1 (the oldest, at the bottom of the list) has her message, unread.
    if (i === 1) await send(me, conv, 'not read by one');
    friends.push({ f, conv });
  }
  // With friend 14 (at the top) her message is read.
  const [first, last] = [friends[0], friends[13]];
  const read = await send(me, last.conv, 'read by fourteen');
  await last.f.call('POST', `/api/v1/conversations/${last.conv}/read`, { seq: read.seq });
  const a = await signedIn(me, { width: 1280, height: 800 });
  await openChat(a.page, last.conv);
  await textMatches(log(a.page).locator('.msg.mine', { hasText: 'read by fourteen' }), /Read/);
  // A draft and a quote in this chat.
  await composer(a.page).fill('a draft for fourteen');
  await log(a.page).locator('.msg', { hasText: 'hello from friend 14' }).getByRole('button', { name: 'Message actions' }).click();
  await a.page.getByRole('button', { name: 'Reply', exact: true }).click();
  await a.page.getByRole('group', { name: /Replying to/ }).waitFor();

  // Friend 1's chat is at the bottom of the list (its message is oldest).
  const list = a.page.locator('.split-list');
  await list.evaluate((el) => (el.scrollTop = el.scrollHeight));
  const scrolled = await list.evaluate((el) => el.scrollTop);
  assert.ok(scrolled > 200, `the list scrolls (${scrolled})`);
  await list.getByRole('link', { name: /Friend 1(?!\d)/ }).click();
  await a.page.waitForURL(`**/chats/${first.conv}`);
  await log(a.page).getByText('not read by one').waitFor();
  // The list stayed where it was (it went back to the top on every click),
  // the chat just opened in view and marked as open.
  assert.ok((await list.evaluate((el) => el.scrollTop)) >= scrolled - 2, 'the list kept its place');
  const row = list.locator('a[aria-current="page"]');
  await row.waitFor();
  assert.equal(await row.getAttribute('href'), `/chats/${first.conv}`);
  assert.ok(await row.evaluate((el) => { const r = el.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; }), 'the open chat is in view in the list');
  // Nothing of the last chat came along: not its draft, not its quote, not
  // its read receipts (friend 1 has read nothing).
  assert.equal(await composer(a.page).inputValue(), '');
  assert.equal(await a.page.getByRole('group', { name: /Replying to/ }).count(), 0);
  assert.doesNotMatch(await log(a.page).locator('.msg.mine', { hasText: 'not read by one' }).textContent(), /Read/);
  // Writing here sends here, without the other chat's quote.
  await composer(a.page).fill('plain, to one');
  await composer(a.page).press('Enter');
  await until('it is sent', async () => (await log(a.page).locator('[data-outbox]').count()) === 0 && (await log(a.page).locator('.msg.mine', { hasText: 'plain, to one' }).count()) === 1);
  const sent = (await first.f.call('GET', `/api/v1/conversations/${first.conv}/messages?after_seq=0`)).messages.find((m) => m.text === 'plain, to one');
  assert.ok(sent && !sent.reply_to, `no quote from the other chat: ${JSON.stringify(sent)}`);
  // And back: fourteen's draft is still there.
  await list.getByRole('link', { name: /Friend 14(?!\d)/ }).click();
  await a.page.waitForURL(`**/chats/${last.conv}`);
  await until('the draft is back', async () => (await composer(a.page).inputValue()) === 'a draft for fourteen');

  // Friend 2's chat is the oldest now (friend 1's has her new message).
  const low = friends[1];
  // From the chats tab (the list alone beside an empty pane) the first chat
  // opened keeps the list's place too.
  await a.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Chats', exact: true }).click();
  await a.page.waitForURL('**/chats');
  const pane = a.page.locator('.split-list');
  await pane.evaluate((el) => (el.scrollTop = el.scrollHeight));
  const paneTop = await pane.evaluate((el) => el.scrollTop);
  assert.ok(paneTop > 200, `the pane scrolls (${paneTop})`);
  await pane.locator(`a[href="/chats/${low.conv}"]`).click();
  await log(a.page).getByText('hello from friend 2').waitFor();
  assert.ok((await a.page.locator('.split-list').evaluate((el) => el.scrollTop)) >= paneTop - 2, 'the list kept its place from the chats tab');

  // On a phone the list is a page of its own: into a chat low in it and
  // back with the chat's ‹ finds the list where it was, not at the top.
  await a.page.setViewportSize({ width: 390, height: 844 });
  await a.page.goto(`${server.base}/chats`);
  await a.page.locator(`a[href="/chats/${low.conv}"]`).waitFor();
  await a.page.mouse.move(200, 400);
  await a.page.mouse.wheel(0, 2_000);
  await until('the list to scroll', async () => (await a.page.evaluate(() => scrollY)) > 200);
  const y = await a.page.evaluate(() => scrollY);
  // Tapped where it is (locator.click() may scroll the page first).
  const box = await a.page.locator(`a[href="/chats/${low.conv}"]`).boundingBox();
  assert.ok(box.y > 0 && box.y + box.height < 844, `the chat is in view (${JSON.stringify(box)})`);
  await a.page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  await log(a.page).getByText('hello from friend 2').waitFor();
  await a.page.getByRole('link', { name: 'Back' }).first().click();
  await a.page.waitForURL('**/chats');
  await until(`the list is back where it was (${y})`, async () => Math.abs((await a.page.evaluate(() => scrollY)) - y) < 4, 5_000).catch(async (e) => { throw new Error(`${e.message}: at ${await a.page.evaluate(() => scrollY)}`); });
  assert.deepEqual(a.problems, []);
  await a.context.close();
});

test('the server\'s refusals read in Chinese in the Chinese UI (a wrong password, a taken username), in the server\'s words in English', { timeout: 90_000 }, async () => {
  const zhang = await person('张三');
  const z = await signedOut({ locale: 'zh-CN', width: 390 });
  await z.page.goto(`${server.base}/login`);
  await z.page.getByLabel('用户名或手机号').fill(zhang.user.username);
  await z.page.getByRole('textbox', { name: '密码', exact: true }).fill('Wr0ng-Passw0rd!');
  await z.page.getByRole('button', { name: '登录', exact: true }).click();
  // It read "The login, password or code is wrong", in English.
  await textMatches(alert(z.page), /账号、密码或验证码不正确/);
  // Registering with a username someone has: it read "This username is
  // taken; choose another", in English.
  await z.page.goto(`${server.base}/register`);
  await z.page.getByLabel('手机号').fill('+8613701699900');
  const since = sms.codes.length;
  await z.page.getByRole('button', { name: '获取验证码' }).click();
  await z.page.getByLabel('验证码', { exact: true }).fill(await codeFor('+8613701699900', 'register', since));
  await z.page.getByLabel('用户名', { exact: true }).fill(zhang.user.username);
  await z.page.getByRole('textbox', { name: '密码', exact: true }).fill('Str0ng-Passw0rd!');
  await z.page.getByLabel('昵称').fill('另一个张三');
  await z.page.getByLabel('我已阅读并同意隐私政策').check();
  await z.page.getByRole('button', { name: '注册', exact: true }).click();
  await textMatches(alert(z.page), /该用户名已被占用/);
  // The same wrong password in English keeps the server's words.
  const e = await signedOut({ locale: 'en-US', width: 390 });
  await e.page.goto(`${server.base}/login`);
  await e.page.getByLabel('Username or phone number').fill(zhang.user.username);
  await e.page.getByRole('textbox', { name: 'Password', exact: true }).fill('Wr0ng-Passw0rd!');
  await e.page.getByRole('button', { name: 'Log in', exact: true }).click();
  await textMatches(alert(e.page), /The login, password or code is wrong/);
  assert.deepEqual([...z.problems, ...e.problems], []);
  for (const x of [z, e]) await x.context.close();
});

test('registration on a phone: what "Send code" did is said under the phone field, in view (a bad number, then a good one)', { timeout: 60_000 }, async () => {
  const z = await signedOut({ locale: 'zh-CN', width: 390 });
  await z.page.setViewportSize({ width: 390, height: 844 });
  await z.page.goto(`${server.base}/register`);
  await z.page.getByLabel('手机号').fill('12345');
  await z.page.getByRole('button', { name: '获取验证码' }).click();
  // The refusal was written by the submit button, 1,300 px down: tapping
  // the button seemed to do nothing.
  const refused = alert(z.page);
  await textMatches(refused, /手机号不正确/);
  assert.ok(await refused.first().evaluate((el) => { const r = el.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; }), 'the refusal is in view');
  await z.page.getByLabel('手机号').fill('+8613701699800');
  await z.page.getByRole('button', { name: '获取验证码' }).click();
  const sent = status(z.page);
  await textMatches(sent, /验证码已发送至 \+8613701699800/);
  assert.ok(await sent.first().evaluate((el) => { const r = el.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; }), 'the confirmation is in view');
  assert.equal(await alert(z.page).count(), 0, 'the refusal is gone');
  assert.deepEqual(z.problems, []);
  await z.context.close();
});

test('the consent history reads in Chinese in the Chinese UI (the server records its purposes in English)', { timeout: 60_000 }, async () => {
  const wang = await person('王五');
  await wang.call('PUT', '/api/v1/me/permissions/album', { granted: true });
  const w = await signedIn(wang, { lang: 'zh', locale: 'zh-CN' });
  await w.page.goto(`${server.base}/me/privacy`);
  const history = w.page.locator('ol.consents');
  await textMatches(history, /注册时同意隐私政策/);
  await textMatches(history, /从相册上传图片和视频/);
  assert.doesNotMatch(await history.textContent(), /acceptance of the privacy policy|uploading pictures/);
  assert.deepEqual(w.problems, []);
  await w.context.close();
});

test('contacts are in the order a person looks for them: Chinese names by pinyin in the Chinese UI (an English browser), numbers by value', { timeout: 90_000 }, async () => {
  const me = await person('Sorter');
  const names = ['张伟', 'Friend 10', '王芳', 'Friend 2', '李娜'];
  for (const n of names) await befriend(me, await person(n));
  // The browser is English; the app is in Chinese.
  const s = await signedIn(me, { lang: 'zh', locale: 'en-US' });
  await s.page.goto(`${server.base}/contacts`);
  const list = s.page.getByRole('heading', { name: /好友/ }).locator('xpath=following-sibling::ul[1]');
  await until('five friends', async () => (await list.locator('li').count()) === 5);
  const order = (await list.locator('li').allTextContents()).map((x) => names.find((n) => x.includes(n)));
  // It was code-point order: "Friend 10" before "Friend 2", 张 before 李 and 王.
  // Chinese collation puts Han names (by pinyin: Li, Wang, Zhang) first.
  assert.deepEqual(order, ['李娜', '王芳', '张伟', 'Friend 2', 'Friend 10']);
  assert.deepEqual(s.problems, []);
  await s.context.close();
});

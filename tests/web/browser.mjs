// The staff web page in Debian's chromium, driven by Playwright, against
// the real daemon (tests/web/run starts it and passes SG_WEB). Each test
// prints "ok - ..." or "not ok - ...: why"; the exit status is the count
// of failures (0: all passed).
import { createHash } from 'node:crypto'
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { createServer } from 'node:http'
import { createRequire } from 'node:module'
import path from 'node:path'

const S = JSON.parse(process.env.SG_WEB)
const require = createRequire(path.join(S.npm, 'x.js'))
const { chromium } = require('playwright-core')
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8')

// the flags that keep chromium from reaching out (see the README)
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync']

let passed = 0
let failed = 0
const state = {}
// every request any page made, and the answers to those for /assets/
const requests = []
const assetAnswers = []

// the fonts GOV.UK Frontend's Sass is built with (daemon/web/govuk.scss):
// the system fonts, never GDS Transport (licensed for gov.uk domains only)
const SYSTEM_FONTS = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", arial, sans-serif'

function assert (cond, msg) {
  if (!cond) throw new Error(msg)
}

async function test (title, fn) {
  try {
    await fn()
    passed++
    console.log(`ok - ${title}`)
  } catch (e) {
    failed++
    console.log(`not ok - ${title}: ${e.message.split('\n').slice(0, 8).join(' | ')}`)
  }
}

const browser = await chromium.launch({ executablePath: S.chromium, headless: true, args: FLAGS })

// A browser profile of its own per person; every page records script
// errors and Content-Security-Policy violations, which must stay empty.
async function person (who, base = S.url) {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true, // the test gateway's certificate is self-signed
    viewport: { width: 1280, height: 900 },
    acceptDownloads: true,
    timezoneId: 'Europe/London',
    locale: 'en-GB'
  })
  await context.addInitScript(() => {
    window.__violations = []
    document.addEventListener('securitypolicyviolation', e =>
      window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`))
  })
  const page = await context.newPage()
  page.__errors = []
  page.on('pageerror', e => page.__errors.push(`pageerror: ${e.message}`))
  page.on('console', m => { if (m.type() === 'error') page.__errors.push(`console: ${m.text()}`) })
  page.on('request', r => requests.push(`${who}: ${r.url()}`))
  page.on('response', r => { if (new URL(r.url()).pathname.startsWith('/assets/')) assetAnswers.push([r.url(), r.status()]) })
  // (a response whose body the page did not read shows as "aborted")
  page.on('requestfailed', r => {
    if (r.failure()?.errorText !== 'net::ERR_ABORTED') console.log(`# ${who}: request failed: ${r.method()} ${r.url()}: ${r.failure()?.errorText}`)
  })
  return { who, context, page, base }
}

async function clean (page) {
  const v = await page.evaluate(() => window.__violations)
  assert(v.length === 0, `CSP violations: ${v.join('; ')}`)
  // a 401/403/404/422 answer the test asked for is logged by chromium
  // as a failed resource; anything else is a fault
  const e = page.__errors.filter(x => !/status of (401|403|404|422)/.test(x))
  assert(e.length === 0, `script errors: ${e.join('; ')}`)
}

async function ready (page) {
  await page.waitForSelector('body[data-ready="1"]', { timeout: 30000 })
}

// axe-core, run in the page (evaluated through the DevTools protocol,
// which the page's CSP does not govern, so the page's policy stays on)
async function axe (page, screen) {
  await page.evaluate(AXE)
  const r = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const res = await axe.run(document, { resultTypes: ['violations'] })
    return res.violations.map(v => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')}`)
  })
  assert(r.length === 0, `axe on ${screen}: ${r.join('; ')}`)
}

async function shots (page, screen) {
  for (const width of [320, 1280]) {
    await page.setViewportSize({ width, height: 900 })
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
    if (overflow > 0) {
      // name the innermost elements that stick out, to say what to fix
      const wide = await page.evaluate(() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5 &&
          ![...e.children].some(k => k.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5))
        .slice(0, 3).map(e => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}.${[...e.classList].join('.')} "${e.textContent.trim().slice(0, 30)}"`))
      assert(false, `${screen} at ${width}px scrolls sideways by ${overflow}px: ${wide.join('; ')}`)
    }
    await page.screenshot({ path: path.join(S.out, `${screen}-${width}.png`), fullPage: true })
  }
  await page.setViewportSize({ width: 1280, height: 900 })
}

async function screen (p, name) {
  await shots(p.page, name)
  await clean(p.page)
  await axe(p.page, name)
}

async function signIn (p, party) {
  await p.page.goto(`${p.base}/sign-in`)
  await p.page.fill('#party', party.id)
  await p.page.fill('#password', party.password)
  await Promise.all([p.page.waitForURL(`${p.base}/send`), p.page.click('button:has-text("Sign in")')])
  await ready(p.page)
}

const sha = b => createHash('sha256').update(b).digest('hex')

// ---- the tests ----

const school = await person('school')
const service = await person('service')
const other = await person('other')

await test('the sign-in page has the security headers and a form with labels', async () => {
  const r = await school.page.goto(`${S.url}/`)
  assert(school.page.url() === `${S.url}/sign-in`, `/ went to ${school.page.url()}`)
  const h = r.headers()
  const csp = h['content-security-policy'] ?? ''
  assert(csp.includes("frame-ancestors 'none'") && csp.includes("script-src 'self'") &&
    !csp.includes('unsafe-inline') && !csp.includes('unsafe-eval'), `CSP: ${csp}`)
  assert(h['x-frame-options'] === 'DENY', 'X-Frame-Options')
  assert(await school.page.locator('label[for="party"]').count() === 1, 'label for party')
  assert(await school.page.locator('label[for="password"]').count() === 1, 'label for password')
  await ready(school.page)
  const hint = await school.page.textContent('#party-hint')
  assert(hint.includes('LAESTAB') && hint.includes('school:3414001') && hint.includes('org:') && !hint.includes('URN'),
    `the organisation ID hint: ${hint}`)
  await screen(school, 'sign-in')
})

await test('the page uses the system fonts: no GDS Transport, no @font-face, no font files', async () => {
  const page = school.page
  const sheets = await page.$$eval('link[rel="stylesheet"]', ls => ls.map(l => l.href))
  assert(sheets.some(h => h.endsWith('/assets/schoolgate.css')), `stylesheets: ${sheets.join(' ')}`)
  for (const href of sheets) {
    const r = await page.request.get(href)
    const css = await r.text()
    assert(r.status() === 200 && (css.length > 100000 || !href.endsWith('/schoolgate.css')), `${href}: ${r.status()}, ${css.length} bytes`)
    assert(!/GDS Transport/i.test(css), `${href} names GDS Transport`)
    assert(!/@font-face/i.test(css), `${href} has @font-face`)
    assert(!/\.woff2?\b|\/fonts\//.test(css), `${href} names a font file`)
    assert(!/govuk-crest|favicon|govuk-icon/.test(css), `${href} names a GOV.UK image`)
  }
  const fonts = await page.evaluate(() => ['main p.govuk-body-s, main p.govuk-body', '.govuk-label', '.govuk-heading-l', '.sg-header__product', '.govuk-button']
    .map(q => [q, getComputedStyle(document.querySelector(q)).fontFamily]))
  for (const [q, f] of fonts) assert(f === SYSTEM_FONTS, `${q}: font-family ${f}`)
  assert(await page.evaluate(() => document.fonts.size) === 0, 'the page declares web fonts')
  // GOV.UK Frontend's own files are not served: the minified stylesheet
  // (replaced by ours), its fonts, crest, crown favicons and icons
  for (const gone of ['/assets/govuk-frontend.min.css', '/assets/fonts/bold-b542beb274-v2.woff2',
    '/assets/fonts/light-94a07e06a1-v2.woff2', '/assets/images/govuk-crest.svg', '/assets/images/favicon.ico',
    '/assets/images/favicon.svg', '/assets/images/govuk-icon-192.png', '/assets/images/govuk-icon-mask.svg']) {
    const r = await page.request.get(`${S.url}${gone}`)
    assert(r.status() === 404, `${gone}: ${r.status()}`)
  }
})

await test('the icon, mark and manifest are our own, and every file the page links to is served', async () => {
  const page = school.page
  const links = await page.$$eval('link[href], img[src], script[src]', es => es.map(e => [e.tagName, e.rel || '', e.href || e.src]))
  const icon = links.find(([, rel]) => rel === 'icon')
  assert(icon && icon[2].endsWith('/assets/images/schoolgate.svg') && links.filter(([, rel]) => rel === 'icon').length === 1,
    `icons: ${JSON.stringify(links)}`)
  for (const [, , href] of links) {
    const r = await page.request.get(href)
    assert(r.status() === 200, `${href}: ${r.status()}`)
  }
  const svg = await page.request.get(icon[2])
  assert(svg.headers()['content-type'] === 'image/svg+xml', `the mark's type: ${svg.headers()['content-type']}`)
  const m = await (await page.request.get(`${S.url}/assets/manifest.json`)).json()
  assert(m.name === 'schoolgate', `manifest name ${m.name}`)
  for (const i of m.icons) {
    const r = await page.request.get(new URL(i.src, `${S.url}/assets/manifest.json`).href)
    assert(r.status() === 200 && !/govuk|favicon/.test(i.src), `manifest icon ${i.src}: ${r.status()}`)
  }
  // the header shows our mark beside the name, not GOV.UK's crown
  assert(await page.locator('header img.sg-header__mark[src="/assets/images/schoolgate.svg"][alt=""]').count() === 1, 'no mark in the header')
  assert(await page.locator('.govuk-header__logo, .govuk-logo, .govuk-footer__copyright-logo, svg.govuk-header__logotype').count() === 0, 'a GOV.UK logo is on the page')
})

await test('a wrong password shows the GOV.UK error summary linked to the field', async () => {
  await school.page.fill('#party', S.school.id)
  await school.page.fill('#password', 'not-the-password')
  const [r] = await Promise.all([
    school.page.waitForResponse(x => x.url().endsWith('/sign-in') && x.request().method() === 'POST'),
    school.page.click('button:has-text("Sign in")')])
  assert(r.status() === 401, `status ${r.status()}`)
  const link = school.page.locator('.govuk-error-summary a[href="#party"]')
  assert(await link.count() === 1, 'no summary link to #party')
  assert((await school.page.title()).startsWith('Error:'), 'title does not start with Error:')
  assert(await school.page.inputValue('#party') === S.school.id, 'organisation ID not kept')
  assert(await school.page.inputValue('#password') === '', 'password echoed back')
  await ready(school.page)
  await screen(school, 'sign-in-error')
})

await test('the school signs in with the keyboard alone; the session cookie is HttpOnly, Secure, SameSite=Strict', async () => {
  const page = school.page
  await page.goto(`${S.url}/sign-in`)
  await ready(page)
  await page.keyboard.press('Tab') // skip link
  let focus = ''
  for (let i = 0; i < 10 && focus !== 'party'; i++) {
    await page.keyboard.press('Tab')
    focus = await page.evaluate(() => document.activeElement?.id)
  }
  assert(focus === 'party', 'Tab never reached the organisation ID')
  await page.keyboard.type(S.school.id)
  await page.keyboard.press('Tab')
  await page.keyboard.type(S.school.password)
  await Promise.all([page.waitForURL(`${S.url}/send`), page.keyboard.press('Enter')])
  const c = (await school.context.cookies()).find(x => x.name === '__Host-sg_session')
  assert(c, 'no session cookie')
  assert(c.httpOnly && c.secure && c.sameSite === 'Strict', JSON.stringify(c))
  assert(c.expires === -1, 'the cookie outlives the browser session')
  await ready(page)
})

await test('Send a file lists the flows with agreement title, description and agreed columns', async () => {
  const page = school.page
  const text = await page.textContent('#flows')
  assert(text.includes('Pupil census extract'), 'no census flow')
  assert(text.includes('School Improvement Liverpool pupil level data sharing'), 'no agreement title')
  assert(text.includes('Received by SIL'), 'no recipient')
  const census = page.locator('#flows .govuk-radios__item', { hasText: 'Pupil census extract' })
  await census.locator('details summary').click()
  assert((await census.locator('details').textContent()).includes('UPN'), 'columns not listed')
  await screen(school, 'send')
})

await test('each flow\'s column rules come from its manifest: order, presence, empty cells, rows, key', async () => {
  const page = school.page
  const flows = (await (await page.request.get(`${S.url}/v1/flows`)).json()).send
  const census = flows.find(f => f.flow === 'census')
  const survey = flows.find(f => f.agreement === 'wltl-survey')
  assert(census && census.columns_in_order === true && census.max_rows === 2000 && census.key === 'UPN' && census.key_unique === true,
    `census in /v1/flows: ${JSON.stringify({ ...census, columns: undefined })}`)
  assert(survey && survey.columns_in_order === false, `survey in /v1/flows: ${JSON.stringify({ ...survey, columns: undefined })}`)
  const upn = census.columns.find(c => c.name === 'UPN')
  const middle = census.columns.find(c => c.name === 'Middlenames')
  assert(upn.required === true && upn.may_be_empty === false, `UPN: ${JSON.stringify(upn)}`)
  assert(middle.required === false && middle.may_be_empty === true, `Middlenames: ${JSON.stringify(middle)}`)
  // the fixed "in any order" the page used to say for every flow is gone
  const hint = await page.textContent('#flow-hint')
  assert(!hint.includes('any order'), `the flows' hint: ${hint}`)
  // the census enforces its order, the survey does not: each says so
  const item = page.locator('#flows .govuk-radios__item', { hasText: 'Pupil census extract' })
  const summary = await item.locator('details summary').textContent()
  assert(summary.includes(`The ${census.columns.length} agreed columns, in this order`), `census summary: ${summary}`)
  const rules = await item.locator('.govuk-details__text').textContent()
  assert(rules.includes('first row must name the columns, in this order') && rules.includes('up to 2,000 rows') &&
    rules.includes('Each UPN can only appear once'), `census rules: ${rules}`)
  const surveyItem = page.locator('#flows .govuk-radios__item', { hasText: survey.description.slice(0, 40) })
  const surveySummary = await surveyItem.locator('details summary').textContent()
  assert(surveySummary.includes('in any order') && !surveySummary.includes('in this order'), `survey summary: ${surveySummary}`)
  // the columns table: whether each column must be present and whether
  // its cells may be empty, both as the manifest says (it used to show
  // "must be present" under "Must be filled in")
  const table = item.locator('table.sg-agreed-columns')
  const head = await table.locator('thead th').allTextContents()
  assert(JSON.stringify(head) === JSON.stringify(['Column', 'In your file']), `table head: ${head.join('|')}`)
  const rows = await table.locator('tbody tr').evaluateAll(trs => trs.map(tr => [...tr.cells].map(c => c.textContent.trim())))
  assert(rows.length === census.columns.length, `${rows.length} rows`)
  census.columns.forEach((c, i) => {
    assert(rows[i][0] === c.name, `row ${i}: ${rows[i][0]}, not ${c.name}`)
    assert(rows[i][1].startsWith(c.required ? 'Must be present' : 'Can be left out'), `${c.name}: ${rows[i][1]}`)
    assert(c.may_be_empty ? /can be empty|or empty/.test(rows[i][1]) : rows[i][1].includes('filled in'), `${c.name}: ${rows[i][1]}`)
  })
  const rule = name => rows.find(r => r[0] === name)?.[1]
  assert(rule('UPN') === 'Must be present and filled in', `UPN: ${rule('UPN')}`)
  assert(rule('Middlenames') === 'Can be left out or empty', `Middlenames: ${rule('Middlenames')}`)
  // the file's hint follows the chosen flow's accepted forms
  await item.locator('input[type="radio"]').check()
  const fileHint = await page.textContent('#file-hint')
  assert(fileHint.includes('A ZIP file holding one CSV file, protected with a password (AES encryption), or a file encrypted with age'),
    `file hint: ${fileHint}`)
  await page.reload()
  await ready(page)
})

await test('sending with nothing chosen shows the error summary linked to each field', async () => {
  const page = school.page
  await page.click('#send-button')
  assert(await page.locator('#error-summary a[href="#flow-0"]').count() === 1, 'no link to the flow')
  assert(await page.locator('#error-summary a[href="#file"]').count() === 1, 'no link to the file')
  assert(await page.locator('#flow-group.govuk-form-group--error').count() === 1, 'flow not marked')
  await page.click('#error-summary a[href="#file"]')
  assert(await page.evaluate(() => document.activeElement.id) === 'file', 'the link does not move to the field')
  await screen(school, 'send-errors')
})

async function send (page, file, useKeyboard, flow = 'Pupil census extract') {
  await page.goto(`${S.url}/send`)
  await ready(page)
  const radio = page.getByLabel(flow, { exact: false })
  if (useKeyboard) {
    await radio.focus()
    await page.keyboard.press('Space')
    assert(await radio.isChecked(), 'Space did not choose the flow')
    for (let i = 0; i < 12 && await page.evaluate(() => document.activeElement.id) !== 'file'; i++) {
      await page.keyboard.press('Tab') // past the columns' details
    }
    assert(await page.evaluate(() => document.activeElement.id) === 'file', 'Tab did not reach the file')
    // the browser's own file dialog is not ours to test: the file is
    // given to the focused control, and the rest is keyboard again
    await page.setInputFiles('#file', file)
    assert(await page.evaluate(() => document.activeElement.id) === 'file', 'focus left the file control')
    await page.keyboard.press('Tab')
    assert(await page.evaluate(() => document.activeElement.id) === 'zip-password', 'Tab did not reach the password')
    await page.keyboard.type(S.zip_password)
    await page.keyboard.press('Tab')
    await page.keyboard.press('Enter')
  } else {
    await radio.check()
    await page.setInputFiles('#file', file)
    await page.fill('#zip-password', S.zip_password)
    await page.click('#send-button')
  }
  await page.waitForSelector('#accepted, #rejected, #error-summary:not([hidden])', { timeout: 120000 })
}

await test('the school sends a valid AES-ZIP census and sees "accepted" with a reference', async () => {
  const page = school.page
  await send(page, S.good, true)
  assert(await page.locator('#accepted').count() === 1,
    `not accepted: ${await page.textContent('main')}`)
  state.ref = (await page.textContent('#reference')).trim()
  assert(/^[0-9A-Za-z-]{8,}$/.test(state.ref), `reference ${state.ref}`)
  const main = await page.textContent('main')
  assert(main.includes(`Rows${S.good_rows}`), 'rows not shown')
  assert(main.includes('Received bySIL'), 'recipients not shown')
  assert(/Kept until\d{1,2} [A-Z][a-z]+ \d{4}/.test(main), 'kept-until date not shown')
  const bar = await page.$eval('#progress', b => ({ v: b.value, n: Number(b.dataset.events) }))
  assert(bar.v === 100 && bar.n >= 1, `progress bar ${JSON.stringify(bar)}`)
  await screen(school, 'accepted')
})

await test('a file with errors shows the error table: rows, column, rule, reason, the count of further errors, no cell values', async () => {
  const page = school.page
  await send(page, S.bad, false)
  assert(await page.locator('#rejected').count() === 1, `not rejected: ${await page.textContent('main')}`)
  state.badRef = (await page.textContent('#reference')).trim()
  const rows = await page.$$eval('table.sg-problems tbody tr', trs => trs.map(tr => [...tr.cells].map(c => c.textContent.trim())))
  assert(rows.length === S.listed, `${rows.length} rows listed`)
  rows.forEach((r, i) => {
    assert(r[0] === String(S.bad_rows[i]), `row ${i}: ${r[0]} not ${S.bad_rows[i]}`)
    assert(r[1] === 'UPN' && r[2] === 'upn.check-letter', `row ${i}: ${r.join('|')}`)
    assert(new RegExp(`^Row ${S.bad_rows[i]}, UPN: the check letter should be [A-Z]$`).test(r[3]), `reason: ${r[3]}`)
  })
  const further = S.bad_rows.length - S.listed
  assert((await page.textContent('#further-errors')).includes(`${further} further errors`), 'further errors not counted')
  const main = await page.textContent('body')
  for (const u of S.bad_upns) assert(!main.includes(u) && !main.includes(u.slice(1)), 'a UPN is on the page')
  await screen(school, 'rejected')
})

await test('a wrong ZIP password is told as such: the file could not be opened, check the password; no advice about the MIS export', async () => {
  const page = school.page
  await page.goto(`${S.url}/send`)
  await ready(page)
  await page.getByLabel('Pupil census extract', { exact: false }).check()
  // another name: the good file is held under its own
  const wrong = path.join(mkdtempSync(path.join(tmpdir(), 'sg-web-')), 'census-wrong-password.zip')
  copyFileSync(S.good, wrong)
  await page.setInputFiles('#file', wrong)
  await page.fill('#zip-password', 'not-the-password')
  await page.click('#send-button')
  await page.waitForSelector('#accepted, #rejected, #error-summary:not([hidden])', { timeout: 120000 })
  const main = await page.textContent('main')
  assert(await page.locator('#container-failure').count() === 1, `not told as a container failure: ${main}`)
  assert(main.includes('could not be opened') && main.includes('password'), main)
  assert(!main.includes('management information system') && !main.includes('does not match the agreement'), main)
  await screen(school, 'wrong-password')
})

await test('the service sees the file under Received files, downloads it byte-identical and confirms receipt', async () => {
  await signIn(service, S.service)
  const page = service.page
  await page.goto(`${S.url}/received`)
  await ready(page)
  const card = page.locator('.govuk-summary-card', { hasText: state.ref })
  assert(await card.count() === 1, 'the transfer is not listed')
  const text = await card.textContent()
  for (const want of ['FromRiverside', 'census.zip', `Rows${S.good_rows}`, 'Not downloaded yet']) {
    assert(text.includes(want), `card lacks ${want}: ${text}`)
  }
  assert(await page.locator('.govuk-summary-card', { hasText: state.badRef }).count() === 0, 'the rejected file is listed')
  await screen(service, 'received')
  const [dl] = await Promise.all([page.waitForEvent('download'), card.locator('a:has-text("Download")').click()])
  const failure = await dl.failure()
  assert(failure === null, `the download failed: ${failure} (${dl.suggestedFilename()}, ${dl.url()})`)
  const got = readFileSync(await dl.path())
  assert(sha(got) === S.good_sha256, `downloaded ${got.length} bytes, sha256 ${sha(got)}`)
  await page.reload()
  await ready(page)
  const again = page.locator('.govuk-summary-card', { hasText: state.ref })
  assert((await again.textContent()).includes('Downloaded on'), 'download not shown')
  await again.locator('button:has-text("Confirm received")').click()
  await page.waitForSelector('.govuk-notification-banner--success')
  const after = page.locator('.govuk-summary-card', { hasText: state.ref })
  assert((await after.textContent()).includes('You confirmed you received it'), 'confirmation not shown')
  assert(await after.locator('button:has-text("Confirm received")').count() === 0, 'still offers to confirm')
  await screen(service, 'received-confirmed')
})

await test('the school sees the file as downloaded and confirmed under Sent files, and the rejected one with its problems', async () => {
  const page = school.page
  await page.goto(`${S.url}/sent`)
  await ready(page)
  const card = page.locator('.govuk-summary-card', { hasText: state.ref })
  const text = await card.textContent()
  assert(/SIL: downloaded on \d{1,2} [A-Z][a-z]+ \d{4}/.test(text), `no download: ${text}`)
  assert(text.includes('confirmed received on'), `no confirmation: ${text}`)
  assert(text.includes('Confirmed'), 'status tag has no words')
  const bad = page.locator('.govuk-summary-card', { hasText: state.badRef })
  assert((await bad.textContent()).includes('Not accepted'), 'rejected not shown')
  await bad.locator('summary').click()
  await bad.locator('table.sg-problems').waitFor()
  assert(await bad.locator('table.sg-problems tbody tr').count() === S.listed, 'problems not listed')
  await screen(school, 'sent')
})

await test('a third party sees neither file and cannot fetch them by URL', async () => {
  await signIn(other, S.other)
  const page = other.page
  const token = await page.evaluate(() => document.querySelector('meta[name="csrf-token"]').content)
  for (const where of ['received', 'sent']) {
    await page.goto(`${S.url}/${where}`)
    await ready(page)
    const t = await page.textContent('main')
    assert(!t.includes(state.ref) && !t.includes(state.badRef), `${where} shows them`)
    assert(await page.locator('#empty').isVisible(), `${where} is not empty`)
  }
  for (const id of [state.ref, state.badRef]) {
    for (const p of [`/v1/transfers/${id}`, `/v1/transfers/${id}/content`]) {
      const r = await page.goto(`${S.url}${p}`)
      assert(r.status() === 404, `${p}: ${r.status()}`)
    }
    const r = await page.request.delete(`${S.url}/v1/transfers/${id}`, {
      headers: { 'X-CSRF-Token': token }
    })
    assert(r.status() === 404, `DELETE: ${r.status()}`)
  }
})

await test('a file deleted by its retention rule shows the date and the rule under Sent files', async () => {
  await send(school.page, S.note, false, 'Small opaque text files')
  assert(await school.page.locator('#accepted').count() === 1, `not accepted: ${await school.page.textContent('main')}`)
  const id = (await school.page.textContent('#reference')).trim()
  assert((await school.page.textContent('main')).includes('1 day after every recipient confirms receipt'), 'retention not explained')
  await service.page.goto(`${S.url}/received`)
  await ready(service.page)
  await service.page.locator('.govuk-summary-card', { hasText: id }).locator('button:has-text("Confirm received")').click()
  await service.page.waitForSelector('.govuk-notification-banner--success')
  // the retention timer runs each second and a "day" is 2 s here: wait
  // for the state the page is about to show
  let st = ''
  for (let i = 0; i < 60 && st !== 'deleted'; i++) {
    const r = await school.page.request.get(`${S.url}/v1/transfers`)
    assert(r.status() === 200, `GET /v1/transfers: ${r.status()}`)
    st = (await r.json()).transfers.find(t => t.id === id)?.state
    if (st !== 'deleted') await school.page.waitForTimeout(500)
  }
  assert(st === 'deleted', `state ${st} after 30 s`)
  await school.page.goto(`${S.url}/sent`)
  await ready(school.page)
  const text = await school.page.locator('.govuk-summary-card', { hasText: id }).textContent()
  assert(/Deleted on \d{1,2} [A-Z][a-z]+ \d{4} under the agreement's retention rule: kept for 1 day after every recipient confirms receipt/.test(text), text)
  assert(text.includes('Deleted'), 'no status tag')
  await screen(school, 'sent-deleted')
})

await test('the school withdraws a file sent in error from Sent files; the service sees it withdrawn, with the reason', async () => {
  await send(school.page, S.note, false, 'Small opaque text files')
  assert(await school.page.locator('#accepted').count() === 1, `not accepted: ${await school.page.textContent('main')}`)
  const id = (await school.page.textContent('#reference')).trim()
  await school.page.goto(`${S.url}/sent`)
  await ready(school.page)
  const card = school.page.locator('.govuk-summary-card', { hasText: id })
  await card.locator('summary:has-text("Withdraw this file")').click()
  // no reason chosen: told, nothing withdrawn
  await card.locator('button:has-text("Withdraw this file")').click()
  await school.page.waitForSelector('.govuk-error-summary')
  await card.locator('select').selectOption('sent-in-error')
  await card.locator('button:has-text("Withdraw this file")').click()
  await school.page.waitForSelector('.govuk-notification-banner--success')
  const text = await school.page.locator('.govuk-summary-card', { hasText: id }).textContent()
  assert(/Withdrawn by the sender on \d{1,2} [A-Z][a-z]+ \d{4} \(sent in error\) and deleted/.test(text), text)
  await clean(school.page)
  await service.page.goto(`${S.url}/received`)
  await ready(service.page)
  const seen = service.page.locator('.govuk-summary-card', { hasText: id })
  const st = await seen.textContent()
  assert(st.includes('Withdrawn') && st.includes('sent in error'), st)
  assert(await seen.locator('a:has-text("Download")').count() === 0, 'still offers the download')
  const r = await service.page.request.get(`${S.url}/v1/transfers/${id}/content`)
  assert(r.status() === 403 || r.status() === 404, `content: ${r.status()}`)
  await clean(service.page)
  await screen(service, 'received-withdrawn')
})

await test('the service suspends an agreement on the Agreements page; the school sees who, why and until when, and cannot send under it; the service lifts it', async () => {
  const card = p => p.page.locator('.govuk-summary-card', { hasText: 'Daemon test agreement' })
  await service.page.goto(`${S.url}/agreements`)
  await ready(service.page)
  const c = card(service)
  assert((await c.textContent()).includes('Active'), await c.textContent())
  await c.locator('summary:has-text("Suspend this agreement")').click()
  // no reason chosen: told, nothing suspended
  await c.locator('button:has-text("Suspend this agreement")').click()
  await service.page.waitForSelector('.govuk-error-summary')
  await c.locator('select').selectOption('security-breach')
  await c.locator('button:has-text("Suspend this agreement")').click()
  await service.page.waitForSelector('.govuk-notification-banner--success')
  const text = await card(service).textContent()
  assert(/Suspended by .+ until .+ because of a breach of security/.test(text), text)
  assert(await card(service).locator('button:has-text("Lift the suspension")').count() === 1, 'no way to lift it')
  await screen(service, 'agreements-suspended')
  // the other party sees it, cannot lift it, and cannot send under it
  await school.page.goto(`${S.url}/agreements`)
  await ready(school.page)
  const st = await card(school).textContent()
  assert(/Suspended by .+ because of a breach of security/.test(st), st)
  assert(await card(school).locator('button').count() === 0, 'the school was offered a button')
  await clean(school.page)
  await school.page.goto(`${S.url}/send`)
  await ready(school.page)
  const flow = school.page.locator('#flows .govuk-radios__item', { hasText: 'Small opaque text files' })
  assert((await flow.textContent()).includes('This agreement is suspended by'), await flow.textContent())
  assert(await flow.locator('input').isDisabled(), 'the suspended flow can be chosen')
  await clean(school.page)
  // the service lifts it
  await service.page.goto(`${S.url}/agreements`)
  await ready(service.page)
  await card(service).locator('select').selectOption('resolved')
  await card(service).locator('button:has-text("Lift the suspension")').click()
  await service.page.waitForSelector('.govuk-notification-banner--success')
  assert((await card(service).textContent()).includes('Active'), await card(service).textContent())
  await clean(service.page)
})

await test('Sent and Received files show 25 to a page, newest first, with a filter by status', async () => {
  const auth = `Basic ${Buffer.from(`${S.school.id}:${S.school.password}`).toString('base64')}`
  for (let i = 0; i < 27; i++) {
    const r = await school.page.request.put(`${S.url}/v1/flows/daemon-test/small/files/page-${String(i).padStart(2, '0')}.zip`, {
      headers: { Authorization: auth, 'Zip-Password': S.zip_password, 'Content-Type': 'application/zip' }, data: readFileSync(S.notes[i])
    })
    assert(r.status() === 201, `upload ${i}: ${r.status()} ${await r.text()}`)
  }
  const total = (await (await school.page.request.get(`${S.url}/v1/transfers`)).json()).transfers.length
  assert(total > 25, `only ${total} sent`)
  await school.page.goto(`${S.url}/sent`)
  await ready(school.page)
  const titles = async () => school.page.locator('.govuk-summary-card__title').allTextContents()
  let t = await titles()
  assert(t.length === 25, `${t.length} cards on page 1`)
  assert(t[0].includes('page-26.zip') && t[1].includes('page-25.zip'), `not newest first: ${t.slice(0, 3)}`)
  assert((await school.page.textContent('#count')).includes(`Showing 1 to 25 of ${total} files`), await school.page.textContent('#count'))
  const height = await school.page.evaluate(() => document.documentElement.scrollHeight)
  await screen(school, 'sent-paged')
  await school.page.click('#pager-next a')
  await school.page.waitForFunction(() => location.hash === '#page=2')
  t = await titles()
  assert(t.length === total - 25, `${t.length} cards on page 2 of ${total}`)
  assert(!t.some(x => x.includes('page-26.zip')), 'page 2 repeats page 1')
  assert(await school.page.locator('#pager-list [aria-current="page"]').textContent() === '2', 'page 2 is not marked current')
  // the filter: only the rejected census
  await school.page.selectOption('#status-filter', 'rejected')
  await school.page.waitForFunction(() => location.hash === '#status=rejected')
  t = await titles()
  const cards = await school.page.locator('.govuk-summary-card').allTextContents()
  assert(cards.length >= 1 && cards.every(c => c.includes('Not accepted')), `filter showed: ${t}`)
  assert(await school.page.locator('#pager').isHidden(), 'a pager for one page')
  // the address keeps the page and the filter (Back, a bookmark)
  await school.page.goto(`${S.url}/sent#page=2`)
  await ready(school.page)
  assert((await titles()).length === total - 25, 'page 2 by its address')
  assert(height < 25 * 600, `page 1 is ${height} px tall`)
  // Received files: the same, and "New" hides the confirmed ones
  await service.page.goto(`${S.url}/received`)
  await ready(service.page)
  assert((await service.page.locator('.govuk-summary-card').count()) === 25, 'received: not 25 to a page')
  await service.page.selectOption('#status-filter', 'confirmed')
  await service.page.waitForFunction(() => location.hash === '#status=confirmed')
  const conf = await service.page.locator('.govuk-summary-card').allTextContents()
  assert(conf.length >= 1 && conf.every(c => c.includes('You confirmed you received it')), `confirmed filter: ${conf.length}`)
  await service.page.selectOption('#status-filter', 'new')
  const fresh = await service.page.locator('.govuk-summary-card').allTextContents()
  assert(fresh.length === 25 && fresh.every(c => c.includes('Not downloaded yet')), `new filter: ${fresh.length}`)
  await screen(service, 'received-filtered')
})

// a page on another origin (another port on loopback) that posts forms
// to the gateway: what a hostile site would do
const hostile = createServer((req, res) => {
  const target = req.url.startsWith('/sign-in') ? 'sign-in' : 'sign-out'
  const creds = target === 'sign-in'
    ? `<input name="party" value="${S.school.id}"><input name="password" value="${S.school.password}">`
    : ''
  res.writeHead(200, { 'Content-Type': 'text/html' })
  res.end(`<!DOCTYPE html><html><body><form id="f" method="post" action="${S.url}/${target}">${creds}</form>` +
    '<script>document.getElementById("f").submit()</script></body></html>')
})
await new Promise(resolve => hostile.listen(0, '127.0.0.1', resolve))
const hostileUrl = `http://127.0.0.1:${hostile.address().port}`

await test('a cross-site form post without the CSRF token is refused', async () => {
  // a signed-in school visits the hostile page, which posts "sign out"
  const page = school.page
  const [r] = await Promise.all([
    page.waitForResponse(x => x.url() === `${S.url}/sign-out`),
    page.waitForURL(`${S.url}/sign-out`),
    page.goto(`${hostileUrl}/sign-out`)])
  assert(r.status() === 403, `sign-out answered ${r.status()}`)
  await page.goto(`${S.url}/send`)
  assert(page.url() === `${S.url}/send`, 'the hostile post signed the school out')
  // a fresh browser visits a page that posts the school's own password
  // (login CSRF): no session is made
  const fresh = await person('fresh')
  const [r2] = await Promise.all([
    fresh.page.waitForResponse(x => x.url() === `${S.url}/sign-in`),
    fresh.page.goto(`${hostileUrl}/sign-in`)])
  assert(r2.status() === 403, `sign-in answered ${r2.status()}`)
  assert(!(await fresh.context.cookies()).some(c => c.name === '__Host-sg_session'), 'a session was made')
  await fresh.context.close()
  // from the gateway's own origin but without the token: the API and the
  // sign-out form both refuse
  const d = await page.evaluate(async id => (await fetch(`/v1/transfers/${id}`, { method: 'DELETE', credentials: 'same-origin' })).status, state.ref)
  assert(d === 403, `DELETE without the token: ${d}`)
  const up = await page.evaluate(async () => (await fetch('/v1/flows/sil-pupil-data/census/files/x.zip', { method: 'PUT', body: 'x', credentials: 'same-origin', headers: { 'X-CSRF-Token': 'wrong' } })).status)
  assert(up === 403, `PUT with a wrong token: ${up}`)
  const [r3] = await Promise.all([
    page.waitForResponse(x => x.url() === `${S.url}/sign-out`),
    page.waitForURL(`${S.url}/sign-out`),
    page.evaluate(() => {
      const f = document.createElement('form')
      f.method = 'post'
      f.action = '/sign-out'
      f.innerHTML = '<input name="csrf" value="not-the-token">'
      document.body.append(f)
      f.submit()
    })])
  assert(r3.status() === 403, `sign-out with a wrong token: ${r3.status()}`)
  await page.goto(`${S.url}/send`)
  assert(page.url() === `${S.url}/send`, 'signed out by a bad token')
})
hostile.close()

await test('signing out ends the session; the old cookie no longer works', async () => {
  const page = school.page
  await page.goto(`${S.url}/send`)
  await ready(page)
  const old = (await school.context.cookies()).find(x => x.name === '__Host-sg_session').value
  await Promise.all([page.waitForURL(`${S.url}/sign-in?signed-out`), page.click('button:has-text("Sign out")')])
  assert((await page.textContent('main')).includes('You have signed out'), 'no signed-out message')
  const r = await page.request.get(`${S.url}/v1/inbox`, { headers: { Cookie: `__Host-sg_session=${old}` } })
  assert(r.status() === 401, `old cookie: ${r.status()}`)
  await screen(school, 'signed-out')
})

await test('a session ends after inactivity (3 s on the second gateway)', async () => {
  const p = await person('idle', S.short_url)
  await signIn(p, S.school)
  const t0 = Date.now()
  // still in: each request within the limit renews it
  for (let i = 0; i < 3; i++) {
    const r = await p.page.request.get(`${S.short_url}/v1/flows`)
    assert(r.status() === 200, `active session refused: ${r.status()}`)
  }
  await p.page.waitForTimeout(Math.max(0, 4200 - (Date.now() - t0))) // the inactivity being tested
  await p.page.goto(`${S.short_url}/sent`)
  assert(p.page.url() === `${S.short_url}/sign-in?timeout`, `went to ${p.page.url()}`)
  assert((await p.page.textContent('main')).includes('no activity'), 'no explanation')
  await screen(p, 'timed-out')
  await p.context.close()
})

await test('failed web sign-ins count toward the ban, which then covers the API too', async () => {
  const p = await person('guesser', S.short_url)
  for (let i = 0; i < 3; i++) {
    await p.page.goto(`${S.short_url}/sign-in`)
    await p.page.fill('#party', S.school.id)
    await p.page.fill('#password', `guess-${i}`)
    await Promise.all([p.page.waitForResponse(x => x.request().method() === 'POST'), p.page.click('button:has-text("Sign in")')])
  }
  await p.page.goto(`${S.short_url}/sign-in`)
  await p.page.fill('#party', S.school.id)
  await p.page.fill('#password', S.school.password)
  const [r] = await Promise.all([p.page.waitForResponse(x => x.request().method() === 'POST'), p.page.click('button:has-text("Sign in")')])
  assert(r.status() === 429, `the right password after 3 wrong: ${r.status()}`)
  assert((await p.page.textContent('main')).includes('too many wrong passwords'), 'no explanation')
  const api = await p.page.request.get(`${S.short_url}/v1/flows`, {
    headers: { Authorization: `Basic ${Buffer.from(`${S.school.id}:${S.school.password}`).toString('base64')}` }
  })
  assert(api.status() === 429, `API with the right password: ${api.status()}`)
  await p.context.close()
})

await test('no page asked for a GOV.UK font, crest, favicon or icon, and every file asked for was there', async () => {
  const gov = requests.filter(r => /\/assets\/fonts\/|govuk-crest|favicon|govuk-icon|govuk-frontend\.min\.css|\.woff2?(\?|$)/.test(r))
  assert(gov.length === 0, `asked for: ${gov.slice(0, 5).join(', ')}`)
  assert(requests.some(r => r.endsWith('/assets/schoolgate.css')), 'the stylesheet was never asked for')
  const missing = assetAnswers.filter(([u, st]) => st !== 200 && st !== 304 &&
    !/govuk-frontend\.min\.css|\/fonts\/|govuk-crest|favicon|govuk-icon/.test(u))
  assert(missing.length === 0, `not served: ${missing.slice(0, 5).map(x => x.join(' ')).join(', ')}`)
})

await browser.close()
console.log(`web browser tests: ${passed} passed, ${failed} failed`)
process.exit(failed)

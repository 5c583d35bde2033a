// schoolgate: the script behind the staff pages. It reads and changes
// everything through the gateway's /v1 API with the signed-in session
// (and its CSRF token), builds the page with DOM calls only (no HTML from
// data), and never shows a cell's value: reports carry none.
import { initAll } from '/assets/govuk-frontend.min.js'

const body = document.body
body.classList.add('js-enabled', 'govuk-frontend-supported')
const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? ''
// the gateway's rule for a file's name (sg_vseg_ok, SG_VSEG_NAME)
// (letters of any language, digits, space, apostrophes, . _ - ( ) + ,;
// NFC, up to 128 bytes, no leading dot)
const nameOk = n => /^(?!\.)[\p{L}\p{M}\p{Nd} ._\-()+,'\u2019]+$/u.test(n) &&
  new TextEncoder().encode(n).length <= 128

// ---- small helpers ----

function el (tag, attrs = {}, ...kids) {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (k === 'class') e.className = v
    else if (k === 'text') e.textContent = v
    else if (k === 'hidden') e.hidden = true
    else e.setAttribute(k, v === true ? '' : v)
  }
  for (const k of kids) {
    if (k === undefined || k === null || k === false) continue
    e.append(typeof k === 'string' ? document.createTextNode(k) : k)
  }
  return e
}

function hiddenText (t) {
  return el('span', { class: 'govuk-visually-hidden', text: t })
}

const LONDON = { timeZone: 'Europe/London' }

function fmtDate (iso) {
  if (!iso) return ''
  return new Date(iso).toLocaleString('en-GB', {
    ...LONDON, day: 'numeric', month: 'long', year: 'numeric', hour: 'numeric', minute: '2-digit'
  })
}

function fmtDay (iso) {
  if (!iso) return ''
  return new Date(iso).toLocaleDateString('en-GB', { ...LONDON, day: 'numeric', month: 'long', year: 'numeric' })
}

function fmtSize (n) {
  if (n < 1024) return `${n} bytes`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`
  return `${(n / 1024 / 1024).toFixed(1)} MB`
}

function plural (n, one, many) {
  return `${n.toLocaleString('en-GB')} ${n === 1 ? one : many}`
}

function retentionText (days, after) {
  if (days === undefined) return 'as the agreement says'
  return after === 'confirmed'
    ? `for ${plural(days, 'day', 'days')} after every recipient confirms receipt`
    : `for ${plural(days, 'day', 'days')} after it is released to the recipients`
}

// the reasons a party or an operator may give for suspending an
// agreement (SG_SUSPEND_REASONS)
const suspendReasons = {
  'security-breach': 'a breach of security',
  'agreement-breach': 'a breach of the agreement',
  'inaccurate-data': 'inaccurate data',
  review: 'a review',
  other: 'another reason'
}

// Why files cannot be sent under an agreement now: who suspended it, why
// and until when, as every party to it sees it.
function agreementStateText (f) {
  const s = f.suspension
  if (f.status === 'suspended' && s) {
    return `This agreement is suspended by ${s.by_name} until ${fmtDate(s.until)} because of ${suspendReasons[s.reason] || s.reason}: files cannot be sent or downloaded under it now.`
  }
  if (f.status === 'ended') return 'This agreement has ended: a suspension ran out and it was not resumed. Files cannot be sent under it.'
  return `This agreement is ${f.status}: files cannot be sent under it now.`
}

// the reasons the gateway takes for a withdrawal (SG_WITHDRAW_REASONS)
const withdrawReasons = {
  'sent-in-error': 'sent in error',
  'wrong-recipient': 'sent to the wrong recipient',
  inaccurate: 'the data was inaccurate',
  superseded: 'replaced by a newer file',
  other: 'another reason'
}

function deletedText (t) {
  if (t.state === 'withdrawn' && !t.deleted) {
    // recorded; the copy goes at the gateway's next retention check
    return `Withdrawn ${t.withdrawn_by === 'operator' ? "by the gateway's operators" : 'by the sender'} on ${fmtDay(t.withdrawn)} (${withdrawReasons[t.withdrawn_reason] || t.withdrawn_reason}); the stored copy is being deleted`
  }
  switch (t.deleted_reason) {
    case 'retention-release':
    case 'retention-confirmed':
      return `Deleted on ${fmtDay(t.deleted)} under the agreement's retention rule: kept ${retentionText(t.retention_days, t.deleted_reason === 'retention-release' ? 'release' : 'confirmed')}`
    case 'unacknowledged':
      return `Deleted on ${fmtDay(t.deleted)}: the gateway stopped before it could tell you the file was accepted, so it was not kept`
    case 'quarantined':
      return `Removed on ${fmtDay(t.deleted)}: the stored copy failed its integrity check`
    case 'delete-by':
      return `Deleted on ${fmtDay(t.deleted)}: the agreement's date for deleting this flow's files had come`
    case 'agreement-ended':
      return `Deleted on ${fmtDay(t.deleted)}: the agreement ended`
    case 'agreement-removed':
    case 'flow-removed':
      return `Deleted on ${fmtDay(t.deleted)}: the agreement (or this flow of it) was withdrawn from the gateway`
    case 'withdrawn':
      return `Withdrawn by the sender on ${fmtDay(t.withdrawn)} (${withdrawReasons[t.withdrawn_reason] || t.withdrawn_reason}) and deleted`
    case 'operator-delete':
      return `Deleted by the gateway's operators on ${fmtDay(t.deleted)} (${withdrawReasons[t.withdrawn_reason] || t.withdrawn_reason || 'no reason recorded'})`
    default:
      return `Deleted on ${fmtDay(t.deleted)} (${t.deleted_reason || 'no reason recorded'})`
  }
}

function signedOut () {
  window.location.assign('/sign-in?timeout')
}

async function api (method, path) {
  const r = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: { Accept: 'application/json', 'X-CSRF-Token': csrf }
  })
  if (r.status === 401) {
    signedOut()
    throw new Error('signed out')
  }
  return r
}

async function problemText (r) {
  try {
    const p = await r.json()
    return p.detail || p.title || `the gateway answered ${r.status}`
  } catch {
    return `the gateway answered ${r.status}`
  }
}

// The GOV.UK error summary at the top of the page, each entry linked to
// its field; errors = [{ href, text }].
function showErrors (errors) {
  let box = document.getElementById('error-summary')
  if (!box) {
    box = el('div', { id: 'error-summary', class: 'govuk-error-summary', tabindex: '-1' },
      el('div', { role: 'alert' },
        el('h2', { class: 'govuk-error-summary__title', text: 'There is a problem' }),
        el('div', { class: 'govuk-error-summary__body' },
          el('ul', { class: 'govuk-list govuk-error-summary__list', id: 'error-list' }))))
    const top = document.querySelector('main .govuk-grid-column-two-thirds, main .govuk-grid-column-full') ?? document.querySelector('main')
    top.prepend(box)
  }
  const list = document.getElementById('error-list')
  list.replaceChildren(...errors.map(e =>
    el('li', {}, e.href ? el('a', { href: e.href, text: e.text }) : e.text)))
  box.hidden = false
  document.title = document.title.startsWith('Error: ') ? document.title : `Error: ${document.title}`
  box.focus()
}

function clearErrors () {
  const box = document.getElementById('error-summary')
  if (box) box.hidden = true
  document.title = document.title.replace(/^Error: /, '')
  for (const g of document.querySelectorAll('.govuk-form-group--error')) {
    g.classList.remove('govuk-form-group--error')
  }
  for (const m of document.querySelectorAll('.govuk-error-message')) {
    m.hidden = true
    m.replaceChildren()
  }
  for (const i of document.querySelectorAll('.govuk-input--error, .govuk-file-upload--error')) {
    i.classList.remove('govuk-input--error', 'govuk-file-upload--error')
  }
}

function fieldError (field, groupId, messageId, text) {
  document.getElementById(groupId).classList.add('govuk-form-group--error')
  const m = document.getElementById(messageId)
  m.replaceChildren(hiddenText('Error: '), text)
  m.hidden = false
  if (field && field.classList.contains('govuk-input')) field.classList.add('govuk-input--error')
  if (field && field.classList.contains('govuk-file-upload')) field.classList.add('govuk-file-upload--error')
  const d = field?.getAttribute('aria-describedby') ?? ''
  if (field && !d.includes(messageId)) field.setAttribute('aria-describedby', `${d} ${messageId}`.trim())
}

function summaryList (rows) {
  return el('dl', { class: 'govuk-summary-list' }, ...rows.filter(Boolean).map(([k, v]) =>
    el('div', { class: 'govuk-summary-list__row' },
      el('dt', { class: 'govuk-summary-list__key', text: k }),
      el('dd', { class: 'govuk-summary-list__value sg-wrap' }, v))))
}

function capitalise (s) {
  return s ? s[0].toUpperCase() + s.slice(1) : s
}

// The problems in a report, as a table: row, column, rule and what is
// wrong in plain English. The report never holds cell values.
function problemsTable (report, caption) {
  const errs = report.errors ?? []
  const total = report.error_total ?? errs.length
  const rows = errs.map(e => {
    const where = e.row > 0 ? `Row ${e.row}` : 'The whole file'
    const col = e.column || ''
    const plain = e.row > 0 && e.column ? `${where}, ${e.column}: ${e.message}` : `${where}: ${e.message}`
    return el('tr', { class: 'govuk-table__row' },
      el('td', { class: 'govuk-table__cell', text: e.row > 0 ? String(e.row) : 'Whole file' }),
      el('td', { class: 'govuk-table__cell sg-wrap', text: col }),
      el('td', { class: 'govuk-table__cell sg-wrap' }, el('code', { text: e.rule })),
      el('td', { class: 'govuk-table__cell', text: capitalise(plain) }))
  })
  const parts = [el('table', { class: 'govuk-table govuk-table--small-text-until-tablet sg-problems' },
    el('caption', { class: 'govuk-table__caption govuk-table__caption--m', text: caption }),
    el('thead', { class: 'govuk-table__head' },
      el('tr', { class: 'govuk-table__row' },
        el('th', { scope: 'col', class: 'govuk-table__header', text: 'Row' }),
        el('th', { scope: 'col', class: 'govuk-table__header', text: 'Column' }),
        el('th', { scope: 'col', class: 'govuk-table__header', text: 'Rule' }),
        el('th', { scope: 'col', class: 'govuk-table__header', text: 'What is wrong' }))),
    el('tbody', { class: 'govuk-table__body' }, ...rows))]
  const further = total - errs.length
  if (further > 0) {
    parts.push(el('p', { class: 'govuk-body', id: 'further-errors' },
      `There ${further === 1 ? 'is' : 'are'} ${plural(further, 'further error', 'further errors')} not listed here. Correct the ones above and send the file again to see them.`))
  }
  return el('div', {}, ...parts)
}

// ---- navigation ----

function markNav () {
  const li = document.querySelector(`[data-nav="${body.dataset.page}"]`)
  if (!li) return
  li.classList.add('govuk-service-navigation__item--active')
  const a = li.querySelector('a')
  a.setAttribute('aria-current', 'page')
  a.replaceChildren(el('strong', { class: 'govuk-service-navigation__active-fallback', text: a.textContent }))
}

// ---- Send a file ----

// What a flow's manifest asks of a CSV file, in words, from the flow's
// own rules (GET /v1/flows), as the gateway checks them.
function orderText (f) {
  return f.columns_in_order ? 'in this order' : 'in any order'
}

function columnRules (f) {
  const rules = [
    `Your file's first row must name the columns, ${orderText(f)}. Capital letters do not matter. The file must not have any other columns.`,
    'The table says which columns can be left out, and which must be filled in on every row.'
  ]
  const limits = []
  if (f.max_rows) limits.push(`The file can have up to ${plural(f.max_rows, 'row', 'rows')}, not counting the first row.`)
  if (f.key && f.key_unique) limits.push(`Each ${f.key} can only appear once.`)
  if (limits.length) rules.push(limits.join(' '))
  return rules
}

// Whether a column must be present (c.required) and whether its cells
// may be empty (c.may_be_empty), the two facts the gateway checks.
function columnText (c) {
  if (c.required) return c.may_be_empty ? 'Must be present; can be empty' : 'Must be present and filled in'
  return c.may_be_empty ? 'Can be left out or empty' : 'Can be left out; if present, filled in'
}

// The forms of file a flow accepts (its "encryption"), as the gateway
// checks them: a ZIP holding exactly one file, or an age file.
function containerText (f) {
  const ways = []
  const aes = f.encryption.includes('zip-aes')
  const legacy = f.encryption.includes('zip-legacy')
  const inner = f.format === 'csv' ? 'one CSV file' : 'one file'
  if (aes || legacy) {
    const how = aes && legacy ? 'AES, or the older and weaker ZipCrypto' : aes ? 'AES' : 'ZipCrypto'
    ways.push(`a ZIP file holding ${inner}, protected with a password (${how} encryption)`)
  }
  if (f.encryption.includes('age')) ways.push("a file encrypted with age to the gateway's key")
  return ways.length ? ways.join(', or ') : 'a file in the form your agreement sets'
}

async function sendPage () {
  const r = await api('GET', '/v1/flows')
  if (!r.ok) {
    showErrors([{ text: `Could not load what you may send: ${await problemText(r)}` }])
    return
  }
  const data = await r.json()
  document.getElementById('flows-loading').hidden = true
  if (data.send.length === 0) {
    document.getElementById('no-flows').hidden = false
    return
  }
  const radios = document.getElementById('flows')
  data.send.forEach((f, i) => {
    const id = `flow-${i}`
    const active = !f.status_why
    const names = f.recipient_names.length ? f.recipient_names.join(', ') : 'nobody yet'
    const cols = el('table', { class: 'govuk-table govuk-table--small-text-until-tablet sg-agreed-columns' },
      el('caption', { class: 'govuk-table__caption govuk-visually-hidden', text: `Columns agreed for ${f.description}` }),
      el('thead', { class: 'govuk-table__head' }, el('tr', { class: 'govuk-table__row' },
        el('th', { scope: 'col', class: 'govuk-table__header', text: 'Column' }),
        el('th', { scope: 'col', class: 'govuk-table__header', text: 'In your file' }))),
      el('tbody', { class: 'govuk-table__body' }, ...f.columns.map(c =>
        el('tr', { class: 'govuk-table__row' },
          el('td', { class: 'govuk-table__cell sg-wrap', text: c.name }),
          el('td', { class: 'govuk-table__cell', text: columnText(c) })))))
    radios.append(el('div', { class: 'govuk-radios__item' },
      el('input', {
        class: 'govuk-radios__input',
        id,
        name: 'flow',
        type: 'radio',
        value: String(i),
        disabled: !active,
        'aria-describedby': `${id}-hint`
      }),
      el('label', { class: 'govuk-label govuk-radios__label', for: id },
        el('strong', { text: f.description || f.flow })),
      el('div', { class: 'govuk-hint govuk-radios__hint', id: `${id}-hint` },
        `Agreement: ${f.title}. Received by ${names}. Kept ${retentionText(f.retention_days, f.retention_after)}.`,
        active ? '' : ` ${agreementStateText(f)}`),
      f.columns.length
        ? el('details', { class: 'govuk-details sg-columns govuk-radios__hint' },
          el('summary', { class: 'govuk-details__summary' },
            el('span', { class: 'govuk-details__summary-text', text: `The ${f.columns.length} agreed columns, ${orderText(f)}` })),
          el('div', { class: 'govuk-details__text' },
            ...columnRules(f).map(t => el('p', { class: 'govuk-body' }, t)), cols))
        : null))
  })
  const form = document.getElementById('send-form')
  const pwGroup = document.getElementById('zip-password-group')
  const chosen = () => {
    const r = form.querySelector('input[name="flow"]:checked')
    return r ? data.send[Number(r.value)] : null
  }
  const fileForm = document.getElementById('file-form')
  form.addEventListener('change', () => {
    const f = chosen()
    pwGroup.hidden = !(f && f.encryption.some(e => e.startsWith('zip')))
    if (f) fileForm.textContent = `${capitalise(containerText(f))}.`
  })
  form.hidden = false
  form.addEventListener('submit', ev => {
    ev.preventDefault()
    upload(chosen())
  })
}

function upload (flow) {
  clearErrors()
  const fileInput = document.getElementById('file')
  const pwInput = document.getElementById('zip-password')
  const file = fileInput.files[0]
  const errors = []
  if (!flow) {
    errors.push({ href: '#flow-0', text: 'Select what you are sending' })
    fieldError(null, 'flow-group', 'flow-error', 'Select what you are sending')
  }
  if (!file) {
    errors.push({ href: '#file', text: 'Choose the file to send' })
    fieldError(fileInput, 'file-group', 'file-error', 'Choose the file to send')
  } else if (!nameOk(file.name.normalize('NFC'))) {
    const t = "The file's name can only use letters, numbers, spaces, apostrophes and . _ - ( ) + , (up to 128 characters, not starting with a full stop): rename the file and choose it again"
    errors.push({ href: '#file', text: t })
    fieldError(fileInput, 'file-group', 'file-error', t)
  } else if (file.size === 0) {
    errors.push({ href: '#file', text: 'The file is empty' })
    fieldError(fileInput, 'file-group', 'file-error', 'The file is empty')
  }
  const pw = pwInput.value
  if (pw && !/^[\x20-\x7e]*$/.test(pw)) {
    const t = 'The ZIP password can only use letters, numbers, spaces and the symbols on a keyboard'
    errors.push({ href: '#zip-password', text: t })
    fieldError(pwInput, 'zip-password-group', 'zip-password-error', t)
  }
  if (errors.length) {
    showErrors(errors)
    return
  }
  const area = document.getElementById('progress-area')
  const bar = document.getElementById('progress')
  const text = document.getElementById('progress-text')
  const button = document.getElementById('send-button')
  area.hidden = false
  bar.value = 0
  bar.dataset.events = '0'
  text.textContent = `Sending ${file.name}: 0% of ${fmtSize(file.size)}`
  button.disabled = true
  const xhr = new XMLHttpRequest()
  xhr.open('PUT', `/v1/flows/${encodeURIComponent(flow.agreement)}/${encodeURIComponent(flow.flow)}/files/${encodeURIComponent(file.name.normalize('NFC'))}`)
  xhr.setRequestHeader('X-CSRF-Token', csrf)
  xhr.setRequestHeader('Accept', 'application/json')
  xhr.setRequestHeader('Content-Type', 'application/octet-stream')
  if (pw) xhr.setRequestHeader('Zip-Password', pw)
  pwInput.value = ''
  xhr.upload.addEventListener('progress', e => {
    if (!e.lengthComputable) return
    const pct = Math.floor(e.loaded * 100 / e.total)
    bar.value = pct
    bar.dataset.events = String(Number(bar.dataset.events) + 1)
    text.textContent = `Sending ${file.name}: ${pct}% (${fmtSize(e.loaded)} of ${fmtSize(e.total)})`
  })
  xhr.upload.addEventListener('load', () => {
    bar.value = 100
    text.textContent = `Sent ${fmtSize(file.size)}. Checking it against the agreement…`
  })
  xhr.addEventListener('load', () => {
    button.disabled = false
    area.hidden = true
    let json = null
    try { json = JSON.parse(xhr.responseText) } catch { json = null }
    if (xhr.status === 201 && json) showAccepted(flow, file, json)
    else if (xhr.status === 422 && json) showRejected(flow, file, xhr.getResponseHeader('Schoolgate-Transfer'), json)
    else if (xhr.status === 401) signedOut()
    else {
      showErrors([{ href: '#file', text: `The file was not sent: ${json?.detail ?? `the gateway answered ${xhr.status}`}. Nothing from it was kept.` }])
    }
  })
  xhr.addEventListener('error', () => {
    button.disabled = false
    area.hidden = true
    showErrors([{ href: '#file', text: 'The connection was lost before the gateway answered. If Sent files does not list the file, send it again.' }])
  })
  xhr.send(file)
}

function showVerdict (...kids) {
  const v = document.getElementById('verdict')
  document.getElementById('send-area').hidden = true
  v.replaceChildren(...kids)
  v.hidden = false
  v.focus()
}

function againLinks () {
  return el('p', { class: 'govuk-body' },
    el('a', { class: 'govuk-link', href: '/send', text: 'Send another file' }), ' or ',
    el('a', { class: 'govuk-link', href: '/sent', text: 'see your sent files' }), '.')
}

function showAccepted (flow, file, res) {
  const t = res.transfer ?? {}
  const who = (t.recipients ?? []).map(r => r.name).join(', ') || flow.recipient_names.join(', ')
  const kept = t.kept_until ? `${fmtDay(t.kept_until)} (${retentionText(flow.retention_days, flow.retention_after).replace(/^for /, '')})` : `Kept ${retentionText(flow.retention_days, flow.retention_after)}`
  document.title = `File accepted – ${document.title.replace(/^Error: /, '').split(' – ').pop()}`
  showVerdict(
    el('div', { class: 'govuk-panel govuk-panel--confirmation', id: 'accepted' },
      el('h1', { class: 'govuk-panel__title', text: 'File accepted' }),
      el('div', { class: 'govuk-panel__body' }, 'Your reference', el('br'), el('strong', { id: 'reference', text: res.id }))),
    el('p', { class: 'govuk-body' }, `${file.name} matches the agreement. It is stored encrypted and only the recipients below can download it.`),
    summaryList([
      ['File', file.name],
      ['Agreement', `${flow.title}: ${flow.description}`],
      ['Rows', String(res.rows)],
      ['Received by', who],
      ['Kept until', kept]
    ]),
    el('p', { class: 'govuk-body', id: 'receipt' },
      'Keep a receipt with your records: it is signed by the gateway\'s transfer log and proves this file was accepted, whatever happens to it later. ',
      el('a', { class: 'govuk-link', href: `/v1/transfers/${encodeURIComponent(res.id)}/receipt`, download: `receipt-${res.id}.json`, text: 'Download the receipt' }),
      '.'),
    againLinks())
}

// A file that could not be opened (its encryption or its container)
// says so, and what to do: fixing the MIS export would not help.
function containerAdvice (rule) {
  if (rule === 'zip.password') return 'The ZIP password did not open it. Check the password agreed for this flow (your data protection lead or the recipient has it) and send it again.'
  if (rule === 'zip.unencrypted' || rule === 'intake.unencrypted') return 'It is not encrypted. Put it in a ZIP encrypted with AES-256 and the password agreed for this flow, or encrypt it with age to the gateway, and send it again.'
  if (rule === 'zip.encryption-weak' || rule === 'zip.encryption') return 'Its ZIP encryption is not AES-256. Make the ZIP again with AES-256 encryption and send it again.'
  if (rule.startsWith('age.')) return 'It is an age file, but not one the gateway can open: encrypt it to the gateway\'s age recipient and send it again.'
  return 'It is damaged, or not an encrypted ZIP or age file. Make the encrypted file again from the export and send it again.'
}

function showContainerFailure (file, id, report) {
  const rule = report.errors[0].rule
  document.title = 'File could not be opened – Schoolgate'
  showVerdict(
    el('h1', { class: 'govuk-heading-l', id: 'rejected', text: 'File could not be opened' }),
    el('div', { class: 'govuk-inset-text', id: 'container-failure' },
      `${file.name} could not be opened, so nothing from it was kept or sent to anyone. `,
      containerAdvice(rule)),
    id ? el('p', { class: 'govuk-body' }, 'Reference for your records: ', el('strong', { id: 'reference', text: id })) : null,
    el('p', { class: 'govuk-body' }, 'What the gateway found: ', el('code', { text: rule })),
    againLinks())
}

function showRejected (flow, file, id, report) {
  const total = report.error_total ?? (report.errors ?? []).length
  const errs = report.errors ?? []
  if (errs.length > 0 && errs.every(e => /^(zip|age|intake)\./.test(e.rule))) {
    showContainerFailure(file, id, report)
    return
  }
  document.title = 'File not accepted – Schoolgate'
  showVerdict(
    el('h1', { class: 'govuk-heading-l', id: 'rejected', text: 'File not accepted' }),
    el('div', { class: 'govuk-inset-text' },
      `${file.name} does not match the agreement "${flow.title}", so nothing from it was kept or sent to anyone. `,
      `It has ${plural(total, 'error', 'errors')}.`),
    id ? el('p', { class: 'govuk-body' }, 'Reference for your records: ', el('strong', { id: 'reference', text: id })) : null,
    problemsTable(report, total > (report.errors ?? []).length
      ? `The first ${plural((report.errors ?? []).length, 'problem', 'problems')} found`
      : 'Problems found'),
    el('p', { class: 'govuk-body' }, 'Put these right in your management information system, export the file again and send it again. The rows are numbered as a spreadsheet numbers them: row 1 is the header.'),
    againLinks())
}

// ---- Received files ----

function notice (text) {
  clearErrors()   // what went wrong before is put right
  const n = document.getElementById('notice')
  n.replaceChildren(el('div', { class: 'govuk-notification-banner govuk-notification-banner--success' },
    el('div', { class: 'govuk-notification-banner__header' },
      el('h2', { class: 'govuk-notification-banner__title', text: 'Success' })),
    el('div', { class: 'govuk-notification-banner__content' },
      el('p', { class: 'govuk-notification-banner__heading', text }))))
}

function card (title, tag, actions, rows, extra) {
  return el('div', { class: 'govuk-summary-card' },
    el('div', { class: 'govuk-summary-card__title-wrapper' },
      el('h2', { class: 'govuk-summary-card__title' }, title, tag ? ' ' : null, tag),
      actions.length ? el('ul', { class: 'govuk-summary-card__actions' }, ...actions.map(a => el('li', { class: 'govuk-summary-card__action' }, a))) : null),
    el('div', { class: 'govuk-summary-card__content' }, summaryList(rows), extra))
}

function tag (text, colour) {
  return el('strong', { class: `govuk-tag ${colour ? `govuk-tag--${colour}` : ''}`, text })
}

// A list page: the transfers from path, newest first, 25 to a page, with
// a filter by status (statusOf names each transfer's); each made into a
// card. The page and the filter are kept in the address's fragment
// (#page=2&status=new), so Back and a bookmark work.
const PAGE_SIZE = 25

function listState () {
  const h = new URLSearchParams(location.hash.slice(1))
  return { page: Math.max(1, parseInt(h.get('page') ?? '1', 10) || 1), status: h.get('status') ?? '' }
}

function listHash (page, status) {
  const h = new URLSearchParams()
  if (page > 1) h.set('page', String(page))
  if (status) h.set('status', status)
  return `#${h.toString()}`
}

function pagerItem (n, current, status) {
  const a = el('a', { class: 'govuk-link govuk-pagination__link', href: listHash(n, status), 'aria-label': `Page ${n}`, text: String(n) })
  if (n === current) a.setAttribute('aria-current', 'page')
  return el('li', { class: `govuk-pagination__item${n === current ? ' govuk-pagination__item--current' : ''}` }, a)
}

function showPager (page, pages, status) {
  const nav = document.getElementById('pager')
  nav.hidden = pages <= 1
  if (pages <= 1) return
  const prev = document.getElementById('pager-prev')
  const next = document.getElementById('pager-next')
  prev.hidden = page <= 1
  next.hidden = page >= pages
  prev.querySelector('a').setAttribute('href', listHash(page - 1, status))
  next.querySelector('a').setAttribute('href', listHash(page + 1, status))
  // the first, the last and the current page with its neighbours; "…"
  // for the rest, as the GOV.UK pagination component shows them
  const items = []
  let last = 0
  for (let n = 1; n <= pages; n++) {
    if (n !== 1 && n !== pages && Math.abs(n - page) > 1) continue
    if (n - last > 1) items.push(el('li', { class: 'govuk-pagination__item govuk-pagination__item--ellipses', text: '…' }))
    items.push(pagerItem(n, page, status))
    last = n
  }
  document.getElementById('pager-list').replaceChildren(...items)
}

async function listPage (path, toCard, statusOf) {
  const r = await api('GET', path)
  if (!r.ok) {
    showErrors([{ text: `Could not load your files: ${await problemText(r)}` }])
    return
  }
  // the API lists newest arrival first; the sort (stable) keeps that
  // order within one second
  const all = (await r.json()).transfers.slice().sort((a, b) =>
    (b.received ?? '').localeCompare(a.received ?? ''))
  const filter = document.getElementById('status-filter')
  const empty = document.getElementById('empty')
  const count = document.getElementById('count')
  empty.dataset.all ??= empty.textContent
  document.getElementById('loading').hidden = true
  document.getElementById('filter-group').hidden = all.length === 0
  const show = () => {
    const st = listState()
    const status = [...filter.options].some(o => o.value === st.status) ? st.status : ''
    filter.value = status
    const list = status ? all.filter(t => statusOf(t) === status) : all
    const pages = Math.max(1, Math.ceil(list.length / PAGE_SIZE))
    const page = Math.min(st.page, pages)
    const shown = list.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE)
    empty.hidden = list.length > 0
    empty.textContent = status ? empty.dataset.filtered : empty.dataset.all
    count.hidden = list.length === 0
    count.textContent = `Showing ${(page - 1) * PAGE_SIZE + 1} to ${(page - 1) * PAGE_SIZE + shown.length} of ${plural(list.length, 'file', 'files')}`
    document.getElementById('list').replaceChildren(...shown.map(toCard))
    showPager(page, pages, status)
  }
  filter.onchange = () => { location.hash = listHash(1, filter.value) }
  window.onhashchange = () => { show(); document.querySelector('h1').scrollIntoView() }
  show()
}

function receivedStatus (t) {
  const me = t.recipients[0] ?? {}
  if (t.state === 'withdrawn') return 'withdrawn'
  return me.confirmed ? 'confirmed' : me.downloaded ? 'downloaded' : 'new'
}

function sentStatus (t) {
  if (t.verdict === 'rejected') return 'rejected'
  if (t.state === 'deleted' || t.state === 'withdrawn') return 'deleted'
  const rc = t.recipients
  if (rc.length > 0 && rc.every(x => x.confirmed)) return 'confirmed'
  return rc.some(x => x.downloaded) ? 'downloaded' : 'waiting'
}

function receivedPage () {
  return listPage('/v1/inbox', t => {
    const me = t.recipients[0] ?? {}
    if (t.state === 'withdrawn') {
      return card(t.name, tag('Withdrawn', 'grey'), [], [
        ['From', t.sender_name],
        ['Agreement', t.agreement_title],
        ['Sent on', fmtDate(t.received)],
        ['Reference', t.id],
        ['Status', t.withdrawn_by === 'operator' ? deletedText(t) : `Withdrawn by ${t.sender_name} on ${fmtDate(t.withdrawn)} (${withdrawReasons[t.withdrawn_reason] || t.withdrawn_reason}). If you downloaded it, delete your copy.`]
      ])
    }
    const status = me.confirmed
      ? `You confirmed you received it on ${fmtDate(me.confirmed)}; it can no longer be downloaded`
      : me.downloaded ? `Downloaded on ${fmtDate(me.downloaded)}; not yet confirmed` : 'Not downloaded yet'
    const confirm = me.confirmed
      ? null
      : el('button', { type: 'button', class: 'govuk-button govuk-button--secondary', 'data-confirm': t.id, 'data-module': 'govuk-button' },
        'Confirm received', hiddenText(`: ${t.name}`))
    if (confirm) {
      confirm.addEventListener('click', async () => {
        confirm.disabled = true
        const d = await api('DELETE', `/v1/transfers/${encodeURIComponent(t.id)}`)
        if (d.status === 204) {
          await receivedPage()
          notice(`You confirmed you received ${t.name}. ${t.sender_name} can see that you did.`)
        } else {
          confirm.disabled = false
          showErrors([{ text: `Could not confirm ${t.name}: ${await problemText(d)}` }])
        }
      })
    }
    // once receipt is confirmed the file is no longer handed out
    return card(t.name, me.confirmed ? tag('Confirmed', 'green') : me.downloaded ? tag('Downloaded', 'blue') : tag('New', 'yellow'),
      me.confirmed ? [] : [el('a', { class: 'govuk-link', href: `/v1/transfers/${encodeURIComponent(t.id)}/content` }, 'Download', hiddenText(` ${t.name}`))],
      [
        ['From', t.sender_name],
        ['Agreement', t.agreement_title],
        ['Sent on', fmtDate(t.received)],
        ['Size', fmtSize(t.size)],
        ['Rows', String(t.rows)],
        ['Reference', t.id],
        t.delivery === 'sealed' ? ['Encryption', "Sealed for your organisation's age key: decrypt it with age after downloading"] : null,
        ['Status', status],
        t.kept_until ? ['Kept until', fmtDay(t.kept_until)] : null
      ],
      confirm ? el('div', {}, el('p', { class: 'govuk-body-s', text: 'Download the file and check it opens before you confirm.' }), confirm) : null)
  }, receivedStatus)
}

// ---- Sent files ----

// Withdrawing a file sent in error: the gateway shreds it and its
// recipients see that it was withdrawn, and why.
function withdrawForm (t) {
  const sel = el('select', { class: 'govuk-select', id: `why-${t.id}` },
    el('option', { value: '', text: 'Choose a reason' }),
    ...Object.entries(withdrawReasons).map(([k, v]) => el('option', { value: k, text: v })))
  const button = el('button', { type: 'button', class: 'govuk-button govuk-button--warning', 'data-withdraw': t.id, 'data-module': 'govuk-button' },
    'Withdraw this file', hiddenText(`: ${t.name}`))
  button.addEventListener('click', async () => {
    if (!sel.value) {
      showErrors([{ text: `Choose why you are withdrawing ${t.name}` }])
      return
    }
    button.disabled = true
    const d = await api('POST', `/v1/transfers/${encodeURIComponent(t.id)}/withdraw?reason=${encodeURIComponent(sel.value)}`)
    if (d.ok) {
      await sentPage()
      notice(`You withdrew ${t.name}. It has been deleted from the gateway and its recipients can see that you withdrew it.`)
    } else {
      button.disabled = false
      showErrors([{ text: `Could not withdraw ${t.name}: ${await problemText(d)}` }])
    }
  })
  return el('details', { class: 'govuk-details' },
    el('summary', { class: 'govuk-details__summary' },
      el('span', { class: 'govuk-details__summary-text', text: 'Sent in error? Withdraw this file' })),
    el('div', { class: 'govuk-details__text' },
      el('div', { class: 'govuk-form-group' },
        el('label', { class: 'govuk-label', for: `why-${t.id}`, text: 'Why are you withdrawing it?' }), sel),
      el('p', { class: 'govuk-body-s', text: 'The file is deleted from the gateway at once. Tell your data protection officer if it was sent to the wrong organisation.' }),
      button))
}

function sentPage () {
  return listPage('/v1/transfers', t => {
    if (t.verdict === 'rejected') {
      const details = el('details', { class: 'govuk-details' },
        el('summary', { class: 'govuk-details__summary' },
          el('span', { class: 'govuk-details__summary-text', text: 'Show the problems found' })),
        el('div', { class: 'govuk-details__text', text: 'Loading…' }))
      details.addEventListener('toggle', async () => {
        if (!details.open || details.dataset.loaded) return
        details.dataset.loaded = '1'
        const d = await api('GET', `/v1/transfers/${encodeURIComponent(t.id)}`)
        const box = details.querySelector('.govuk-details__text')
        if (!d.ok) {
          box.textContent = `Could not load the report: ${await problemText(d)}`
          return
        }
        const full = await d.json()
        box.replaceChildren(full.report ? problemsTable(full.report, 'Problems found') : 'There is no report for this file.')
      })
      return card(t.name, tag('Not accepted', 'red'), [], [
        ['Reference', t.id],
        ['Agreement', t.agreement_title],
        ['Sent on', fmtDate(t.received)],
        ['Result', `Not accepted: ${plural(t.errors, 'error', 'errors')} (first rule broken: ${t.rule}). Nothing from it was kept.`]
      ], details)
    }
    const rc = t.recipients
    const state = {
      deleted: tag('Deleted', 'grey'),
      confirmed: tag('Confirmed', 'green'),
      downloaded: tag('Downloaded', 'blue'),
      waiting: tag('Waiting', 'yellow')
    }[sentStatus(t)]
    const who = el('ul', { class: 'govuk-list' }, ...rc.map(x => el('li', {},
      el('strong', { text: x.name }), ': ',
      x.downloaded ? `downloaded on ${fmtDate(x.downloaded)}` : 'not downloaded yet',
      x.confirmed ? `; confirmed received on ${fmtDate(x.confirmed)}` : '')))
    const gone = t.state === 'deleted' || t.state === 'withdrawn'
    return card(t.name, state, [], [
      ['Reference', t.id],
      ['Agreement', t.agreement_title],
      ['Sent on', fmtDate(t.received)],
      ['Rows', String(t.rows)],
      ['Size', fmtSize(t.size)],
      ['Recipients', who],
      gone
        ? ['Deleted', deletedText(t)]
        : ['Kept until', t.kept_until ? `${fmtDay(t.kept_until)} (kept ${retentionText(t.retention_days, t.retention_after)})` : `Kept ${retentionText(t.retention_days, t.retention_after)}`]
    ], gone ? null : withdrawForm(t))
  }, sentStatus)
}

// ---- agreements ----

const resumeReasons = { resolved: 'the problem is resolved', reviewed: 'the agreement was reviewed', other: 'another reason' }

const stateTags = {
  active: ['Active', 'govuk-tag--green'],
  'review-overdue': ['Review overdue', 'govuk-tag--yellow'],
  suspended: ['Suspended', 'govuk-tag--red'],
  ended: ['Ended', 'govuk-tag--grey'],
  expired: ['Ended', 'govuk-tag--grey']
}

// Suspending (any party, while it is active) or lifting a suspension (the
// party that made it): the gateway records who, why and until when.
function suspendForm (a) {
  if (a.may_resume) {
    const sel = el('select', { class: 'govuk-select', id: `resume-${a.id}` },
      ...Object.entries(resumeReasons).map(([k, v]) => el('option', { value: k, text: v })))
    const button = el('button', { type: 'button', class: 'govuk-button', 'data-resume': a.id, 'data-module': 'govuk-button' },
      'Lift the suspension', hiddenText(` of ${a.title}`))
    button.addEventListener('click', async () => {
      button.disabled = true
      const d = await api('POST', `/v1/agreements/${encodeURIComponent(a.id)}/resume?reason=${encodeURIComponent(sel.value)}`)
      if (d.ok) {
        await agreementsPage()
        notice(`You lifted the suspension of ${a.title}. Files can be sent and downloaded under it again.`)
      } else {
        button.disabled = false
        showErrors([{ text: `Could not lift the suspension: ${await problemText(d)}` }])
      }
    })
    return el('div', {},
      el('div', { class: 'govuk-form-group' },
        el('label', { class: 'govuk-label', for: `resume-${a.id}`, text: 'Why are you lifting it?' }), sel),
      button)
  }
  if (!a.may_suspend) return null
  const sel = el('select', { class: 'govuk-select', id: `why-${a.id}` },
    el('option', { value: '', text: 'Choose a reason' }),
    ...Object.entries(suspendReasons).map(([k, v]) => el('option', { value: k, text: v })))
  const days = el('input', { class: 'govuk-input govuk-input--width-3', id: `days-${a.id}`, type: 'text', inputmode: 'numeric', value: String(a.max_suspension_days) })
  const button = el('button', { type: 'button', class: 'govuk-button govuk-button--warning', 'data-suspend': a.id, 'data-module': 'govuk-button' },
    'Suspend this agreement', hiddenText(`: ${a.title}`))
  button.addEventListener('click', async () => {
    const n = parseInt(days.value, 10)
    if (!sel.value) {
      showErrors([{ href: `#why-${a.id}`, text: 'Choose why you are suspending the agreement' }])
      return
    }
    if (!(n >= 1 && n <= a.max_suspension_days)) {
      showErrors([{ href: `#days-${a.id}`, text: `Enter a number of days from 1 to ${a.max_suspension_days}` }])
      return
    }
    button.disabled = true
    const d = await api('POST', `/v1/agreements/${encodeURIComponent(a.id)}/suspend?reason=${encodeURIComponent(sel.value)}&days=${n}`)
    if (d.ok) {
      await agreementsPage()
      notice(`You suspended ${a.title} for ${n} day${n === 1 ? '' : 's'}. Nothing is sent or downloaded under it until then, and the other parties can see that you suspended it, and why.`)
    } else {
      button.disabled = false
      showErrors([{ text: `Could not suspend the agreement: ${await problemText(d)}` }])
    }
  })
  return el('details', { class: 'govuk-details' },
    el('summary', { class: 'govuk-details__summary' },
      el('span', { class: 'govuk-details__summary-text', text: 'Suspend this agreement' })),
    el('div', { class: 'govuk-details__text' },
      el('div', { class: 'govuk-form-group' },
        el('label', { class: 'govuk-label', for: `why-${a.id}`, text: 'Why are you suspending it?' }), sel),
      el('div', { class: 'govuk-form-group' },
        el('label', { class: 'govuk-label', for: `days-${a.id}`, text: `For how many days (at most ${a.max_suspension_days})?` }), days),
      el('p', { class: 'govuk-body-s', text: `When the suspension runs out the agreement ${a.suspension_expiry === 'end' ? 'ends, and the files held under it are deleted' : 'is active again'}. Tell your data protection officer.` }),
      button))
}

async function agreementsPage () {
  const r = await api('GET', '/v1/agreements')
  if (!r.ok) throw new Error(await problemText(r))
  const list = (await r.json()).agreements
  const box = document.getElementById('list')
  document.getElementById('loading').hidden = true
  document.getElementById('empty').hidden = list.length > 0
  box.replaceChildren(...list.map(a => {
    const [tag, cls] = stateTags[a.status] || [a.status, 'govuk-tag--grey']
    const s = a.suspension
    const state = s
      ? `Suspended by ${s.by_name} on ${fmtDate(s.from)} until ${fmtDate(s.until)} because of ${suspendReasons[s.reason] || s.reason}.`
      : a.status_why ? `${capitalise(a.status_why)}.` : a.status === 'review-overdue' ? `Its review was due on ${a.review}.` : 'Files can be sent under it.'
    return el('div', { class: 'govuk-summary-card', 'data-agreement': a.id },
      el('div', { class: 'govuk-summary-card__title-wrapper' },
        el('h2', { class: 'govuk-summary-card__title', text: a.title }),
        el('strong', { class: `govuk-tag ${cls}`, text: tag })),
      el('div', { class: 'govuk-summary-card__content' },
        summaryList([
          ['Status', state],
          ['Parties', a.parties.map(p => `${p.name} (${p.role})`).join(', ')],
          ['Runs', `${a.start} to ${a.end}; review by ${a.review}`],
          ['Lawful basis', a.lawful_basis]
        ]),
        suspendForm(a)))
  }))
}

// ---- start ----

const pages = { send: sendPage, received: receivedPage, sent: sentPage, agreements: agreementsPage }
markNav()
initAll()
const run = pages[body.dataset.page]
if (run) {
  run().catch(e => {
    if (e.message !== 'signed out') showErrors([{ text: `Something went wrong: ${e.message}. Reload the page to try again.` }])
  }).finally(() => { body.dataset.ready = '1' })
} else {
  body.dataset.ready = '1'
}

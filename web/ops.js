// The official's board: a map of zones, shelters, reports and alerts' areas on which zones are
// drawn, edited, imported, ordered evacuated and lifted; counts that update themselves; a chart
// per zone; approvals; alerts with who has not acknowledged; printing codes by the thousand.

import { $, api, applyWords, caller, el, Offline, problem, say, setupLanguage, store, t, uuid, when } from './common.js';
import { ZoneMap, parseZoneFile } from './map.js';
import { zoneChart } from './chart.js';

// A person signs in with a password and a code: the session travels in an HttpOnly cookie the
// page never sees. `token` is only for the access-token door (scripts, machines).
let token = null;
const request = caller(() => token, (up) => { if (!up) say(t('network_error'), true); });
// A session that ended (idle, signed out elsewhere, account disabled) sends the person back
// to the sign-in form instead of leaving a board that silently stops updating.
async function call(path, opts) {
  const r = await request(path, opts);
  // Reloading clears every name and list from the screen, not just hides them.
  if (r.status === 401 && !token && !$('board').hidden) {
    sessionStorage.setItem('ops_signed_out', '1');
    location.reload();
  }
  return r;
}

// A console left open and untouched signs itself out, as the server's idle timeout does,
// so that no list of people stays on an unattended screen.
const IDLE_MS = 60 * 60 * 1000;
let lastInput = Date.now();
for (const ev of ['keydown', 'pointerdown', 'touchstart']) addEventListener(ev, () => { lastInput = Date.now(); }, { passive: true });
setInterval(() => {
  if (!token && !$('board').hidden && Date.now() - lastInput > IDLE_MS) signOut();
}, 60 * 1000);

// A list is drawn again only when what it shows changed: a live refresh must not replace a
// row (and its buttons) under a finger about to tap it.
const listed = {};
function changed(key, data) {
  const now = JSON.stringify(data);
  if (listed[key] === now) return false;
  listed[key] = now;
  return true;
}

async function loadZones() {
  const r = await call('/v1/zones');
  if (!r.ok) return say(problem(r), true);
  const features = r.data.features;
  zoneFeatures = features;
  if (selected) {
    const again = features.find((f) => f.properties.id === selected.properties.id);
    if (again) showZone(again, false);
    else closeZone();
  }
  if (!changed('zones', features)) return;
  map?.zones(features);
  $('zone-rows').replaceChildren(...features.map(({ properties: p }) => el('tr', { 'data-zone': p.id },
    el('td', {}, p.name), el('td', {}, t(p.order_level === 'none' ? 'none' : p.order_level)), el('td', {}, p.residents),
    el('td', { class: 'red-count' }, p.red), el('td', {}, p.yellow), el('td', {}, p.green), el('td', {}, p.sheltered),
    el('td', {}, p.safe_with_relatives), el('td', {}, p.not_reached))));
  const chosen = $('o-zone').value;
  $('o-zone').replaceChildren(...features.map(({ properties: p }) => el('option', { value: p.id, selected: p.id === chosen }, p.name)));
  const printing = $('p-zone').value;
  $('p-zone').replaceChildren(...features.map(({ properties: p }) => el('option', { value: p.id, selected: p.id === printing }, p.name)));
}

async function loadOrders() {
  const [orders, zones] = [await call('/v1/orders?active=true'), store('ops_zone_names') || {}];
  if (!orders.ok) return;
  activeOrders = orders.data;
  if (selected) showZone(selected, false);
  if (!changed('orders', [orders.data, zones])) return;
  $('orders').replaceChildren(...orders.data.map((o) => el('li', {},
    el('strong', {}, `${t(o.level)} · ${zones[o.zone_id] || o.zone_id}`), ` — ${o.reason} · ${when(o.issued_at)} `,
    el('button', { type: 'button', onclick: async () => { const r = await call(`/v1/orders/${o.id}/lift`, { method: 'POST' }); say(r.ok ? t('saved') : problem(r), !r.ok); refresh(); } }, t('lift')))));
}

let previewed = null;
async function preview(e) {
  e.preventDefault();
  const f = e.target;
  const level = f.elements.level.value;
  const r = await call(`/v1/zones/${f.elements.zone.value}/orders/preview`, { method: 'POST', body: { level } });
  if (!r.ok) return say(problem(r), true);
  previewed = { zone: f.elements.zone.value, level, reason: f.elements.reason.value };
  $('o-effect').textContent = `${r.data.to_red} ${t('will_turn_red')} · ${r.data.to_yellow} ${t('will_turn_yellow')}`;
  $('o-effect').hidden = false;
  $('o-confirm').hidden = false;
}

async function confirmOrder() {
  if (!previewed) return;
  const body = { level: previewed.level, reason: previewed.reason };
  const what = `order:${previewed.zone}`;
  const r = await call(`/v1/zones/${previewed.zone}/orders`, { method: 'POST', body, headers: keyFor(what, body) });
  say(r.ok ? t('saved') : problem(r), !r.ok);
  if (r.ok) delete attempts[what];
  previewed = null;
  $('o-confirm').hidden = true;
  $('o-effect').hidden = true;
  refresh();
}

// What the second official is asked to let happen, in a line: the colour it leads to, the
// facts it changes, or a rule set's differences and who would move.
function describeChange(a) {
  const c = a.change;
  if (!c) return a.colour ? `→ ${t(a.colour)}` : '';
  if (a.kind === 'facts') {
    const facts = Object.entries(c.facts || {}).map(([k, v]) => `${k}: ${typeof v === 'string' ? t(v) : JSON.stringify(v)}`);
    return `${t(c.colour_before)} → ${t(c.colour_after)} (${facts.join('; ')})`;
  }
  if (a.kind === 'rules') {
    const n = (k) => (c.rules && c.rules[k] ? c.rules[k].length : 0);
    const p = c.preview || {};
    return `v${c.active_version} → v${c.version}${c.rollback ? ` (${t('rollback')})` : ''}: `
      + `${n('added')} ${t('rules_added')}, ${n('removed')} ${t('rules_removed')}, ${n('changed')} ${t('rules_changed')}; `
      + `${p.to_red || 0} ${t('will_turn_red')}, ${p.to_yellow || 0} ${t('will_turn_yellow')}`;
  }
  if (a.kind === 'duplicates') return `${(c.retire || []).length} ${t('retire_others')} · ···${c.id_last4 || ''}`;
  return '';
}

// A record found by its document: who registered it when, and (in this district) the button
// that gives it to the person whose ID card the official has in hand.
function documentRecord(r) {
  const box = el('li', {}, el('strong', {}, t(`standing_${r.standing}`)), ` · ${when(r.registered_at)} · ${r.source}`,
    r.in_jurisdiction ? null : ` · ${t('in_other_district')}`);
  if (r.in_jurisdiction) {
    const checked = el('input', { type: 'checkbox' });
    const reason = el('input', { placeholder: t('reason'), maxlength: 500 });
    // One key per click: a retry after a lost answer hands back the same sign-in.
    const key = uuid();
    const go = el('button', { type: 'button', class: 'primary', onclick: async () => {
      const res = await call(`/v1/residents/${r.id}/reclaim`, { method: 'POST', headers: { 'Idempotency-Key': key },
        body: { id_card_checked: checked.checked, reason: reason.value || null } });
      if (!res.ok) return say(problem(res), true);
      say('');
      const img = el('img', { alt: 'sign-in', class: 'code', src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(res.data.sign_in_svg)}` });
      $('take-back').replaceChildren(el('p', {}, t('take_back_done')), img,
        res.data.approval ? el('p', {}, `${res.data.other_records.length} ${t('retire_others')}`) : '',
        el('button', { type: 'button', onclick: () => { $('take-back').hidden = true; $('take-back').replaceChildren(); } }, t('close')));
      $('take-back').hidden = false;
      // After the lists above have redrawn: the code must be whole on screen to be scanned.
      refresh().finally(() => img.scrollIntoView({ block: 'center' }));
    } }, t('take_back'));
    box.append(el('div', {}, el('label', {}, checked, ' ', t('id_card_checked'))), reason, ' ', go);
  }
  return box;
}

async function findDocument(e) {
  e.preventDefault();
  const f = e.target;
  const r = await call('/v1/residents/lookup', { method: 'POST',
    body: { id_type: f.elements.id_type.value, id_number: f.elements.id_number.value.trim() } });
  if (!r.ok) return say(problem(r), true);
  say('');
  // The number is not left on the screen of a shared console.
  f.elements.id_number.value = '';
  $('doc-records').replaceChildren(...(r.data.records.length
    ? r.data.records.map(documentRecord) : [el('li', {}, t('no_records'))]));
}

async function loadDisputes() {
  const r = await call('/v1/residents/disputes');
  if (!r.ok || !changed('disputes', r.data)) return;
  $('disputes').replaceChildren(...r.data.map((d) => el('li', {}, el('strong', {}, `${t(d.id_type)} ···${d.id_last4}`),
    el('ul', { class: 'plain' }, ...d.records.map(documentRecord)))));
}

async function loadApprovals() {
  const r = await call('/v1/approvals?status=pending');
  if (!r.ok || !changed('approvals', r.data)) return;
  const decide = (a, verb) => async () => {
    const d = await call(`/v1/approvals/${a.id}/${verb}`, { method: 'POST' });
    say(d.ok ? t('saved') : problem(d), !d.ok);
    refresh();
  };
  $('approvals').replaceChildren(...r.data.map((a) => el('li', {},
    el('strong', {}, `${t('kind_' + a.kind)} · ${a.residents} ${t('residents')}`), ` — ${a.reason} (${a.requested_by}) `,
    describeChange(a), ' ',
    el('button', { type: 'button', class: 'primary', onclick: decide(a, 'approve') }, t('approve')), ' ',
    el('button', { type: 'button', onclick: decide(a, 'reject') }, t('reject')))));
}

async function downloadPending(alert) {
  const res = await fetch(`/v1/alerts/${alert.id}/recipients?acknowledged=false&per_page=10000`, {
    headers: token ? { Authorization: `Bearer ${token}`, Accept: 'text/csv' } : { Accept: 'text/csv' },
  });
  if (!res.ok) return say(t('failed'), true);
  const url = URL.createObjectURL(await res.blob());
  const a = el('a', { href: url, download: `pending-${alert.id}.csv` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

async function loadAlerts() {
  const r = await call('/v1/alerts');
  if (!r.ok || !changed('alerts', r.data)) return;
  map?.alerts(r.data);
  $('alerts').replaceChildren(...r.data.map((a) => el('li', { 'data-alert': a.id },
    el('strong', {}, a.headline), ` · ${a.msg_type} · ${when(a.sent_at)}`,
    el('div', {}, `${t('recipients')} ${a.recipients} · ${t('acknowledged')} ${a.acknowledged} · ${t('pending')} `,
      el('strong', { class: 'pending' }, a.pending)),
    el('button', { type: 'button', onclick: () => downloadPending(a) }, t('download_pending')), ' ',
    el('button', { type: 'button', onclick: () => resendSms(a) }, t('resend_sms')), ' ',
    el('button', { type: 'button', onclick: () => showDoor(a.id) }, t('door_to_door')))));
}

async function resendSms(a) {
  const r = await call(`/v1/alerts/${a.id}/resend`, { method: 'POST', body: { channels: ['sms'] } });
  say(r.ok ? `SMS: ${r.data.queued.sms} ${t('queued')}` : problem(r), !r.ok);
}

// One Idempotency-Key per request as composed: the same request sent again after a lost answer
// (Send pressed twice on a bad network) is applied once; a changed one is a new request.
const attempts = {};
function keyFor(what, body) {
  const composed = JSON.stringify(body);
  if (!attempts[what] || attempts[what].composed !== composed) attempts[what] = { composed, key: uuid() };
  return { 'Idempotency-Key': attempts[what].key };
}

// An alert in Chinese, English or both: the Chinese is the original when there is one, the
// other its translation; each resident is sent the one they read.
async function sendAlert(e) {
  e.preventDefault();
  const f = e.target.elements;
  const words = (l) => ({ headline: f[`headline_${l}`].value.trim(), description: f[`description_${l}`].value.trim(),
    instruction: f[`instruction_${l}`].value.trim() });
  const zh = words('zh');
  const en = words('en');
  const has = (w) => w.headline && w.description;
  if (!has(zh) && !has(en)) return say(t('alert_needs_text'), true);
  const [language, own, other] = has(zh) ? ['zh', zh, en] : ['en', en, null];
  const zones = [...f.zones.selectedOptions].map((o) => o.value);
  const body = { zones, language, ...own, event: f.event.value.trim(), response_type: f.response_type.value,
    severity: f.severity.value, urgency: f.urgency.value, certainty: f.certainty.value };
  if (other && has(other)) body.translation = other;
  if (f.escalate_after.value) body.escalate_after = Number(f.escalate_after.value);
  const names = [...f.zones.selectedOptions].map((o) => o.textContent).join(', ');
  if (!confirm(`${t('send_alert')}: ${own.headline} → ${names}?`)) return;
  const r = await call('/v1/alerts', { method: 'POST', body, headers: keyFor('alert', body) });
  say(r.ok ? `${t('alert_sent')} ${r.data.recipients} ${t('residents')}` : problem(r), !r.ok);
  if (r.ok) {
    delete attempts.alert;
    e.target.reset();
    loadAlerts();
  }
}

// Escalation's end: who is still to reach, village by village, with what was tried; a list to
// print for the teams that knock on doors.
async function showDoor(id) {
  const r = await call(`/v1/alerts/${id}/door-to-door?per_page=2000`);
  if (!r.ok) return say(problem(r), true);
  const head = () => el('thead', {}, el('tr', {}, ...['name', 'phone', 'address', 'needs', 'reached', 'tried']
    .map((k) => el('th', { scope: 'col' }, t(k)))));
  const row = (p) => el('tr', {}, el('td', {}, p.name), el('td', {}, p.phone || ''), el('td', {}, p.address || ''),
    el('td', {}, p.needs.map((n) => t(n)).join(', ')), el('td', {}, p.reached_at ? when(p.reached_at) : ''),
    el('td', {}, p.tried.map((x) => `${x.channel} ×${x.messages}${x.failed_at ? ' ✗' : ''}`).join(', ')));
  const villages = r.data.villages;
  $('door-list').replaceChildren(...(villages.length
    ? villages.map((v) => el('div', { class: 'village' }, el('h3', {}, `${v.name} · ${v.people.length}`),
      el('table', {}, head(), el('tbody', {}, ...v.people.map(row)))))
    : [el('p', {}, t('no_one_left'))]));
  $('door').hidden = false;
  $('door').scrollIntoView({ block: 'start' });
}

async function loadContacts() {
  const r = await call('/v1/alert-contacts');
  if (!r.ok || !changed('contacts', r.data)) return;
  $('contacts').replaceChildren(...r.data.map((c) => el('li', {},
    el('strong', {}, c.name), ` · ${c.kind} · ${c.zone_name || c.incident_id || ''} · ${c.address_hint} · ${c.language} `,
    el('button', { type: 'button', onclick: async () => {
      const d = await call(`/v1/alert-contacts/${c.id}`, { method: 'DELETE' });
      say(d.ok ? t('saved') : problem(d), !d.ok);
      loadContacts();
    } }, t('remove')))));
}

async function addContact(e) {
  e.preventDefault();
  const f = e.target.elements;
  const body = { kind: f.kind.value, name: f.name.value.trim(), zone_id: f.zone.value,
    address: f.address.value.trim(), language: f.language.value };
  if (f.kind.value === 'dingtalk') body.secret = f.secret.value.trim();
  const r = await call('/v1/alert-contacts', { method: 'POST', body, headers: keyFor('contact', body) });
  if (r.ok) delete attempts.contact;
  say(r.ok ? t('saved') : problem(r), !r.ok);
  if (r.ok) {
    f.secret.value = '';
    f.address.value = '';
    loadContacts();
  }
}

async function loadReports() {
  const r = await call('/v1/reports?limit=100');
  if (!r.ok || !changed('reports', r.data)) return;
  map?.reports(r.data.features);
  const items = [...r.data.features].sort((a, b) => (b.properties.urgent - a.properties.urgent)
    || (a.properties.created_at < b.properties.created_at ? 1 : -1));
  $('reports').replaceChildren(...items.map(({ properties: p }) => el('li', {},
    p.urgent ? el('span', { class: 'urgent' }, t('urgent')) : null, ' ',
    el('strong', {}, t(p.category)), ` · ${p.status} · ${when(p.created_at)}`, el('div', {}, p.text))));
}

async function loadShelters() {
  const r = await call('/v1/shelters');
  if (!r.ok || !changed('shelters', r.data)) return;
  map?.shelters(r.data);
  $('shelters').replaceChildren(...r.data.map((s) => el('tr', { 'data-shelter': s.id }, el('td', {}, s.name),
    el('td', {}, `${t('occupancy')} ${s.occupancy}/${s.capacity}`), el('td', {}, s.status),
    el('td', {}, el('button', { type: 'button', class: 'desks', onclick: () => openDesks(s) }, t('desk_phones'))))));
}

// Desk phones of one shelter: an enrolment code to scan, the phones with their last use.
let desksOf = null;
async function openDesks(s) {
  desksOf = s;
  $('desks').hidden = false;
  $('desks-shelter').textContent = s.name;
  $('enrolment').hidden = true;
  await loadDevices();
  $('enrol-name').focus();
}

async function loadDevices() {
  if (!desksOf) return;
  const r = await call(`/v1/shelters/${desksOf.id}/devices`);
  if (!r.ok) return say(problem(r), true);
  const path = (d) => `/v1/shelters/${desksOf.id}/devices/${d.id}`;
  $('devices').replaceChildren(...r.data.map((d) => el('li', { 'data-device': d.id },
    el('strong', {}, d.name), ' · ',
    d.revoked_at ? `${t('revoked')} ${when(d.revoked_at)}`
      : `${t('last_used')} ${d.last_used_at ? when(d.last_used_at) : '—'} · ${t('valid_until')} ${when(d.expires_at)} `,
    d.revoked_at ? null : el('button', { type: 'button', onclick: async () => {
      const x = await call(`${path(d)}/renew`, { method: 'POST', body: {} });
      say(x.ok ? t('saved') : problem(x), !x.ok);
      loadDevices();
    } }, t('renew')), ' ',
    d.revoked_at ? null : el('button', { type: 'button', class: 'danger revoke', onclick: async () => {
      const x = await call(path(d), { method: 'DELETE' });
      say(x.ok ? t('revoked') : problem(x), !x.ok);
      loadDevices();
    } }, t('revoke')))));
}

async function offerEnrolment(e) {
  e.preventDefault();
  const f = e.target.elements;
  const r = await call(`/v1/shelters/${desksOf.id}/enrolments`, { method: 'POST',
    body: { name: f.name.value.trim(), hours: Number(f.hours.value) || undefined } });
  if (!r.ok) return say(problem(r), true);
  say('');
  $('enrol-qr').src = `data:image/svg+xml;base64,${btoa(r.data.qr_svg)}`;
  $('enrol-until').textContent = when(r.data.expires_at);
  $('enrolment').hidden = false;
  // Once a phone has used it the list shows the phone: look for a while.
  for (let i = 0; i < 60 && !$('enrolment').hidden; i++) {
    await new Promise((ok) => setTimeout(ok, 5000));
    await loadDevices();
  }
}

async function revokeAll() {
  if (!desksOf || !confirm(t('revoke_all_confirm'))) return;
  const r = await call(`/v1/shelters/${desksOf.id}/devices`, { method: 'DELETE' });
  say(r.ok ? `${t('revoked')}: ${r.data.revoked}` : problem(r), !r.ok);
  loadDevices();
}

// The zones as choices in another form, keeping what the official had chosen: the lists are
// redrawn on every live update, mid-typing.
function zoneChoices(select) {
  const chosen = new Set([...select.selectedOptions].map((o) => o.value));
  select.replaceChildren(...[...$('o-zone').options].map((o) => {
    const c = el('option', { value: o.value }, o.textContent);
    c.selected = chosen.has(o.value);
    return c;
  }));
}

async function refresh() {
  try {
    await loadZones();
    const names = Object.fromEntries([...$('o-zone').options].map((o) => [o.value, o.textContent]));
    store('ops_zone_names', names);
    zoneChoices($('c-zone'));
    zoneChoices($('a-zones'));
    await Promise.all([loadOrders(), loadApprovals(), loadDisputes(), loadAlerts(), loadReports(), loadShelters(),
      loadCharts(), loadIncidents(), loadContacts()]);
  } catch (err) {
    if (!(err instanceof Offline)) throw err;
  }
}

// ---- The map: zones drawn, edited, imported; orders from a zone's panel. ----
let map = null;
let zoneFeatures = [];
let selected = null;
let activeOrders = [];

async function startMap() {
  if (map) return;
  map = await new ZoneMap($('map'), call, { onZone: (f) => showZone(f, true) }).init();
}

function countsLine(p) {
  return `${p.residents} ${t('residents')} · ${p.red} ${t('red')} · ${p.yellow} ${t('yellow')} · ${p.sheltered} ${t('sheltered')} · `
    + `${p.safe_with_relatives} ${t('safe_relatives')} · ${p.not_reached} ${t('not_reached')}`;
}

function showZone(f, fresh) {
  selected = f;
  const p = f.properties;
  $('zone-panel').hidden = false;
  $('zp-name').textContent = `${p.name}${p.order_level === 'none' ? '' : ` · ${t(p.order_level)}`}`;
  $('zp-counts').textContent = countsLine(p);
  const order = activeOrders.find((o) => o.zone_id === p.id);
  $('zp-lift').hidden = !order;
  $('zp-delete').disabled = !!order;
  $('zp-delete').title = order ? t('lift_first') : '';
  $('zp-chart').replaceChildren(zoneChart(p.name, histories[p.id] || []));
  if (fresh) {
    $('zp-effect').hidden = true;
    $('zp-issue').hidden = true;
    $('zp-reason').value = '';
    $('zone-panel').scrollIntoView({ block: 'nearest' });
  }
}

function closeZone() {
  selected = null;
  map?.stopEditing();
  $('zone-panel').hidden = true;
}

/** A refusal shown next to what caused it: in the panel it came from, and on the map. */
function refused(target, r) {
  target.textContent = problem(r);
  target.classList.add('error');
  target.hidden = false;
}

function shown(target, text) {
  target.textContent = text;
  target.classList.remove('error');
  target.hidden = false;
}

async function zonePreview() {
  const r = await call(`/v1/zones/${selected.properties.id}/orders/preview`, { method: 'POST', body: { level: $('zp-level').value } });
  if (!r.ok) return refused($('zp-effect'), r);
  shown($('zp-effect'), `${r.data.to_red} ${t('will_turn_red')} · ${r.data.to_yellow} ${t('will_turn_yellow')}`);
  $('zp-issue').hidden = false;
}

async function zoneIssue() {
  const body = { level: $('zp-level').value, reason: $('zp-reason').value.trim() };
  const what = `order:${selected.properties.id}`;
  const r = await call(`/v1/zones/${selected.properties.id}/orders`, { method: 'POST', body, headers: keyFor(what, body) });
  if (!r.ok) return refused($('zp-effect'), r);
  delete attempts[what];
  shown($('zp-effect'), t('order_issued'));
  $('zp-issue').hidden = true;
  refresh();
}

async function zoneLift() {
  const order = activeOrders.find((o) => o.zone_id === selected.properties.id);
  if (!order) return;
  const r = await call(`/v1/orders/${order.id}/lift`, { method: 'POST' });
  if (!r.ok) return refused($('zp-effect'), r);
  shown($('zp-effect'), t('order_lifted'));
  refresh();
}

async function zoneDelete() {
  if (!confirm(`${t('delete_zone')}: ${selected.properties.name}?`)) return;
  const r = await call(`/v1/zones/${selected.properties.id}`, { method: 'DELETE' });
  if (!r.ok) return refused($('zp-effect'), r);
  closeZone();
  say(t('zone_deleted'));
  refresh();
}

function zoneEdit() {
  map.edit(selected.geometry);
  for (const id of ['zp-edit-save', 'zp-edit-cancel']) $(id).hidden = false;
  $('zp-edit').hidden = true;
}

function zoneEditDone() {
  map.stopEditing();
  for (const id of ['zp-edit-save', 'zp-edit-cancel']) $(id).hidden = true;
  $('zp-edit').hidden = false;
}

async function zoneEditSave() {
  const geometry = map.edited();
  const r = await call(`/v1/zones/${selected.properties.id}`, { method: 'PATCH', body: { geometry } });
  if (!r.ok) return refused($('zp-effect'), r);
  zoneEditDone();
  shown($('zp-effect'), t('saved'));
  refresh();
}

// Drawing a new zone: corners on the map, a name, the impact, then save.
let drawn = null;

function drawStart() {
  closeZone();
  cancelImport();
  map.startDrawing();
  $('drawing').hidden = false;
  $('draft').hidden = true;
}

function drawFinish() {
  const geometry = map.finishDrawing();
  if (!geometry) return say(t('three_corners'), true);
  say('');
  drawn = geometry;
  map.showDraft(geometry);
  $('drawing').hidden = true;
  $('draft').hidden = false;
  $('draft-impact').hidden = true;
  $('draft-save').disabled = true;
  $('draft-name').focus();
}

function drawCancel() {
  map.cancelDrawing();
  drawn = null;
  $('drawing').hidden = true;
  $('draft').hidden = true;
}

const feature = (name, geometry) => ({ type: 'Feature', properties: { name }, geometry });

async function draftPreview(e) {
  e.preventDefault();
  const r = await call(`/v1/zones/preview?level=${$('draft-level').value}`, { method: 'POST', body: feature($('draft-name').value.trim(), drawn) });
  if (!r.ok) {
    $('draft-save').disabled = true;
    return refused($('draft-impact'), r);
  }
  shown($('draft-impact'), impactLine(r.data));
  $('draft-save').disabled = false;
}

function impactLine(d) {
  return `${d.residents} ${t('residents_n')} · ${d.to_red} ${t('would_turn_red')} · ${d.to_yellow} ${t('would_turn_yellow')} · ${d.needs_help} ${t('need_help')}`;
}

async function draftSave() {
  const r = await call('/v1/zones', { method: 'POST', body: feature($('draft-name').value.trim(), drawn) });
  if (!r.ok) return refused($('draft-impact'), r);
  drawCancel();
  say(`${t('saved')}: ${r.data.name}`);
  await refresh();
  const f = zoneFeatures.find((z) => z.properties.id === r.data.id);
  if (f) showZone(f, true);
}

// Importing a file of zones: each checked by the server as a save would be, shown on the map
// (refused ones in red with the reason), then the accepted ones saved.
let imported = [];

async function importFile() {
  const file = $('zone-file').files[0];
  if (!file) return;
  drawCancel();
  closeZone();
  let items;
  try {
    items = parseZoneFile(await file.text(), file.name);
  } catch {
    $('zone-file').value = '';
    return say(t('bad_zone_file'), true);
  }
  map.clearDrafts();
  imported = [];
  for (const item of items) {
    let result;
    if (!item.geometry) result = { ok: false, data: { detail: t('no_polygon') } };
    else result = await call('/v1/zones/preview', { method: 'POST', body: feature(item.name, item.geometry) });
    const entry = { ...item, ok: result.ok, text: result.ok ? impactLine(result.data) : problem(result) };
    if (item.geometry) {
      try { map.showDraft(item.geometry, { label: `${item.name}${result.ok ? '' : ` — ${entry.text}`}`, refused: !result.ok }); } catch { /* not drawable */ }
    }
    imported.push(entry);
  }
  renderImported();
  const first = imported.find((i) => i.geometry);
  if (first) map.fit(first.geometry);
}

function renderImported() {
  $('imported').hidden = false;
  $('imported-list').replaceChildren(...imported.map((i) => el('li', { class: i.ok ? 'accepted' : 'refused' },
    el('strong', {}, i.name), ' — ', i.ok ? '' : el('span', { class: 'urgent' }, t('refused')), ' ', i.text)));
  $('import-save').disabled = !imported.some((i) => i.ok && !i.saved);
}

async function importSave() {
  for (const i of imported.filter((x) => x.ok && !x.saved)) {
    const r = await call('/v1/zones', { method: 'POST', body: feature(i.name, i.geometry) });
    i.saved = r.ok;
    i.text = r.ok ? t('saved') : problem(r);
    if (!r.ok) i.ok = false;
  }
  renderImported();
  refresh();
}

function cancelImport() {
  imported = [];
  $('imported').hidden = true;
  $('zone-file').value = '';
  map?.clearDrafts();
}

// Charts: each zone's last hours.
let histories = {};

async function loadCharts() {
  const r = await call('/v1/zones/history?hours=12');
  if (!r.ok) return;
  // The samples are minutes apart; the line ends at the counts of this moment.
  const now = Object.fromEntries(zoneFeatures.map(({ properties: p }) => [p.id, {
    at: new Date().toISOString(), must_move: p.red, sheltered: p.sheltered,
    safe_with_relatives: p.safe_with_relatives, not_reached: p.not_reached }]));
  histories = Object.fromEntries(r.data.map((h) => [h.zone_id, now[h.zone_id] ? [...h.points, now[h.zone_id]] : h.points]));
  if (!changed('charts', [r.data, zoneFeatures.map((f) => [f.properties.name, f.properties.red, f.properties.sheltered,
    f.properties.safe_with_relatives, f.properties.not_reached])])) return;
  const names = Object.fromEntries(zoneFeatures.map((f) => [f.properties.id, f.properties.name]));
  $('charts').replaceChildren(...r.data.map((h) => zoneChart(names[h.zone_id] || h.zone_id, histories[h.zone_id])));
  if (selected) $('zp-chart').replaceChildren(zoneChart(selected.properties.name, histories[selected.properties.id] || []));
}

// Live: one stream per page; each change fetches the lists again, at most every few seconds.
let events = null;
let lastRefresh = 0;
let pending = null;

function scheduleRefresh() {
  if (pending) return;
  const wait = Math.max(0, lastRefresh + 3000 - Date.now());
  pending = setTimeout(async () => {
    lastRefresh = Date.now();
    try { await refresh(); } finally { pending = null; }
  }, wait);
}

function goLive() {
  if (token || !window.EventSource) {
    // Bearer tokens cannot ride on an EventSource: a script's console polls instead.
    $('live').textContent = t('live_polling');
    setInterval(scheduleRefresh, 15000);
    return;
  }
  events?.close();
  events = new EventSource('/v1/events');
  heard = Date.now();
  let seen = null;
  events.addEventListener('change', (e) => {
    heard = Date.now();
    $('live').textContent = `${t('live_on')} · ${when(new Date().toISOString())}`;
    // The first event after (re)connecting may follow a gap: always fetch then.
    if (e.data !== seen) scheduleRefresh();
    seen = e.data;
  });
  events.addEventListener('ping', () => { heard = Date.now(); });
  events.onerror = async () => {
    $('live').textContent = t('live_reconnecting');
    if (events.readyState !== EventSource.CLOSED) return;
    // Refused (not a network drop): the session may have ended; `call` sends the person
    // back to sign in when it has, else try again shortly.
    try { await call('/v1/auth/session'); } catch { /* offline: try later */ }
    setTimeout(goLive, 5000);
  };
}

// A phone network can leave a connection half open: no error, no events. The server pings
// every 15 s; a stream silent for 40 s is replaced.
let heard = 0;
setInterval(() => {
  if (events && events.readyState !== EventSource.CLOSED && Date.now() - heard > 40000) {
    $('live').textContent = t('live_reconnecting');
    goLive();
  }
}, 10000);

// Printing codes by the thousand.
let incidents = [];

async function loadIncidents() {
  const r = await call('/v1/incidents');
  if (!r.ok) return;
  incidents = r.data;
  if (!changed('incidents', r.data)) return;
  const chosen = $('p-incident').value;
  $('p-incident').replaceChildren(...incidents.map((i) => el('option', { value: i.id, selected: i.id === chosen }, i.name)));
}

function printScope() {
  const scope = $('p-scope').value;
  $('p-zone-box').hidden = scope !== 'zone';
  $('p-incident-box').hidden = scope !== 'incident';
  $('p-csv-box').hidden = scope !== 'csv';
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Resident ids from a CSV file: the `resident_id` (or `id`) column, else the first. */
function residentIds(text) {
  const rows = text.split(/\r?\n/).filter((l) => l.trim()).map((l) => l.split(',').map((c) => c.trim().replace(/^"|"$/g, '')));
  if (!rows.length) return [];
  let col = rows[0].findIndex((h) => ['resident_id', 'id'].includes(h.toLowerCase()));
  const body = col >= 0 ? rows.slice(1) : rows;
  if (col < 0) col = 0;
  return body.map((r) => r[col]).filter((v) => UUID.test(v || ''));
}

async function printCodes(e) {
  e.preventDefault();
  const scope = $('p-scope').value;
  let body;
  if (scope === 'zone') body = { zone: $('p-zone').value };
  else if (scope === 'incident') body = { incident: $('p-incident').value };
  else {
    const file = $('p-csv').files[0];
    const ids = file ? residentIds(await file.text()) : [];
    if (!ids.length) return shown($('p-status'), t('no_ids_in_csv'));
    body = { residents: ids };
  }
  printPdf(body);
}

async function printPdf(body) {
  const status = $('p-status');
  const bar = $('p-progress');
  $('p-download').hidden = true;
  shown(status, t('print_working'));
  let res;
  try {
    res = await fetch('/v1/print/cards', { method: 'POST', cache: 'no-store',
      headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body) });
  } catch { return refused(status, { status: 0, data: { detail: t('network_error') } }); }
  if (!res.ok) {
    const data = await res.json().catch(() => null);
    return refused(status, { status: res.status, data });
  }
  const total = Number(res.headers.get('X-Card-Count')) || 0;
  bar.max = total || 1;
  bar.value = 0;
  bar.hidden = false;
  const reader = res.body.getReader();
  const parts = [];
  const latin1 = new TextDecoder('latin1');
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      // Each page starts with "%safecode-progress done/total".
      const marks = [...latin1.decode(value).matchAll(/%safecode-progress (\d+)\/(\d+)/g)];
      if (marks.length) {
        const done2 = Number(marks[marks.length - 1][1]);
        bar.value = done2;
        status.textContent = `${done2} / ${total} ${t('cards_done')}`;
      }
    }
  } catch {
    bar.hidden = true;
    return refused(status, { status: 0, data: { detail: t('print_broken') } });
  }
  const blob = new Blob(parts, { type: 'application/pdf' });
  const a = $('p-download');
  if (a.href) URL.revokeObjectURL(a.href);
  a.href = URL.createObjectURL(blob);
  a.download = (/filename="([^"]+)"/.exec(res.headers.get('Content-Disposition') || '') || [])[1] || 'safecode-cards.pdf';
  a.textContent = `${t('download_pdf')} (${total} ${t('cards')}, ${Math.round(blob.size / 1024)} KB)`;
  a.hidden = false;
  bar.value = bar.max;
  shown(status, `${total} ${t('cards_ready')}`);
}

async function signInWithToken(e) {
  e.preventDefault();
  const candidate = e.target.elements.token.value.trim();
  try {
    const r = await api('/v1/zones', { token: candidate });
    if (!r.ok) return say(problem(r), true);
    token = store('ops_token', candidate);
    say('');
    show();
  } catch { say(t('network_error'), true); }
}

async function signIn(e) {
  e.preventDefault();
  const f = e.target.elements;
  try {
    const r = await api('/v1/auth/sign-in', { method: 'POST',
      body: { login: f.login.value.trim(), password: f.password.value, code: f.code.value.trim() } });
    f.code.value = '';
    if (!r.ok) return say(problem(r), true);
    f.password.value = '';
    say('');
    show();
  } catch { say(t('network_error'), true); }
}

// Passkeys: the options come as WebAuthn's JSON forms and the answer goes back as toJSON().
const passkeys = !!(window.PublicKeyCredential && PublicKeyCredential.parseCreationOptionsFromJSON);

async function addPasskey() {
  try {
    const o = await call('/v1/auth/passkeys/options', { method: 'POST' });
    if (!o.ok) return say(problem(o), true);
    const cred = await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(o.data) });
    const r = await call('/v1/auth/passkeys', { method: 'POST', body: cred.toJSON() });
    say(r.ok ? t('passkey_added') : problem(r), !r.ok);
  } catch (err) {
    if (err instanceof Offline) return;
    say(`${t('failed')}: ${err.name || err}`, true);
  }
}

async function signInWithPasskey() {
  try {
    const o = await api('/v1/auth/passkey/options', { method: 'POST' });
    if (!o.ok) return say(problem(o), true);
    const cred = await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(o.data) });
    const r = await api('/v1/auth/passkey', { method: 'POST', body: cred.toJSON() });
    if (!r.ok) return say(problem(r), true);
    say('');
    show();
  } catch (err) {
    if (err instanceof Offline) return say(t('network_error'), true);
    say(`${t('failed')}: ${err.name || err}`, true);
  }
}

async function signOut() {
  if (token) store('ops_token', null);
  else await api('/v1/auth/sign-out', { method: 'POST' }).catch(() => {});
  location.reload();
}

// A one-time setup link (#setup=…): choose a password and enrol an authenticator app.
async function startSetup(code) {
  // The link is spent soon; it should not stay in the address bar or the history.
  history.replaceState(null, '', location.pathname);
  const r = await api('/v1/auth/setup/offer', { method: 'POST', body: { setup_code: code } });
  if (!r.ok) {
    $('password-signin').hidden = false;
    return say(problem(r), true);
  }
  $('setup-login').textContent = r.data.login;
  $('setup-qr').src = `data:image/svg+xml;base64,${btoa(r.data.qr_svg)}`;
  $('setup-secret').textContent = r.data.secret.replace(/(.{4})/g, '$1 ').trim();
  $('setup').hidden = false;
  $('setup').onsubmit = async (e) => {
    e.preventDefault();
    const f = e.target.elements;
    const done = await api('/v1/auth/setup', { method: 'POST',
      body: { setup_code: code, password: f.password.value, code: f.code.value.trim() } });
    if (!done.ok) return say(problem(done), true);
    say('');
    $('setup').hidden = true;
    $('recovery-codes').replaceChildren(...done.data.recovery_codes.map((c) => el('li', {}, el('code', {}, c))));
    $('recovery').hidden = false;
    $('recovery-done').onclick = () => { $('recovery').hidden = true; show(); };
  };
}

async function show() {
  for (const id of ['password-signin', 'token-door', 'setup']) $(id).hidden = true;
  $('board').hidden = false;
  $('passkey-add').hidden = !passkeys || !!token;
  await startMap();
  await refresh();
  goLive();
  openDoorFromLink();
}

// A link from an escalation message (#door=<alert>) opens that alert's door-to-door list.
function openDoorFromLink() {
  const door = location.hash.match(/^#door=([0-9a-f-]{36})$/);
  if (door && !$('board').hidden) showDoor(door[1]);
}

async function init() {
  setupLanguage(() => {
    // Every list is drawn again in the other language.
    for (const k of Object.keys(listed)) delete listed[k];
    if (!$('board').hidden) refresh();
  });
  $('password-signin').onsubmit = signIn;
  $('signin').onsubmit = signInWithToken;
  $('signout').onclick = signOut;
  $('reload').onclick = refresh;
  $('order').onsubmit = preview;
  $('doc-find').onsubmit = findDocument;
  $('o-confirm').onclick = confirmOrder;
  $('enrol-form').onsubmit = offerEnrolment;
  $('revoke-all').onclick = revokeAll;
  $('passkey-add').onclick = addPasskey;
  $('passkey-signin').onclick = signInWithPasskey;
  $('passkey-signin').hidden = !passkeys;
  $('draw').onclick = drawStart;
  $('contact-form').onsubmit = addContact;
  $('alert-form').onsubmit = sendAlert;
  window.addEventListener('hashchange', openDoorFromLink);
  $('door-print').onclick = () => window.print();
  $('door-close').onclick = () => { $('door').hidden = true; };
  $('draw-finish').onclick = drawFinish;
  $('draw-cancel').onclick = drawCancel;
  $('draft').onsubmit = draftPreview;
  $('draft-save').onclick = draftSave;
  $('draft-cancel').onclick = drawCancel;
  $('zone-file').onchange = importFile;
  $('import-save').onclick = importSave;
  $('import-cancel').onclick = cancelImport;
  $('zp-preview').onclick = zonePreview;
  $('zp-issue').onclick = zoneIssue;
  $('zp-lift').onclick = zoneLift;
  $('zp-delete').onclick = zoneDelete;
  $('zp-edit').onclick = zoneEdit;
  $('zp-edit-save').onclick = zoneEditSave;
  $('zp-edit-cancel').onclick = zoneEditDone;
  $('zp-close').onclick = closeZone;
  $('zp-print').onclick = () => {
    // The progress shows in the printing section: bring it into view.
    $('printing').scrollIntoView({ block: 'start' });
    printPdf({ zone: selected.properties.id });
  };
  $('p-scope').onchange = printScope;
  $('print-form').onsubmit = printCodes;
  applyWords();
  const setup = location.hash.match(/^#setup=([\w-]+)$/);
  if (setup) return startSetup(setup[1]);
  if (sessionStorage.getItem('ops_signed_out')) {
    sessionStorage.removeItem('ops_signed_out');
    say(t('signed_out_again'), true);
  }
  token = store('ops_token');
  if (token) return show();
  try {
    const me = await api('/v1/auth/session');
    if (me.ok) return show();
  } catch { /* offline: the form below */ }
  $('password-signin').hidden = false;
  $('token-door').hidden = false;
}

init();

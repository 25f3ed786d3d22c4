// The official's board: zones drawn from their GeoJSON as SVG (no map tiles), shaded by their
// share of red residents; orders with a preview before confirming; approvals; alerts with who
// has not acknowledged; hazard reports; shelters.

import { $, api, applyWords, caller, el, Offline, problem, say, setupLanguage, store, t, uuid, when } from './common.js';

const SVG = 'http://www.w3.org/2000/svg';
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

function rings(geometry) {
  if (geometry.type === 'Polygon') return geometry.coordinates;
  if (geometry.type === 'MultiPolygon') return geometry.coordinates.flat();
  return [];
}

/** Zones as SVG paths: equirectangular, x scaled by cos(latitude) so shapes keep their form. */
function drawMap(features) {
  const map = $('map');
  map.replaceChildren();
  const pts = features.flatMap((f) => rings(f.geometry).flat());
  if (!pts.length) return;
  const lons = pts.map((p) => p[0]);
  const lats = pts.map((p) => p[1]);
  const [minLon, maxLon, minLat, maxLat] = [Math.min(...lons), Math.max(...lons), Math.min(...lats), Math.max(...lats)];
  const k = Math.cos(((minLat + maxLat) / 2) * Math.PI / 180);
  const w = Math.max((maxLon - minLon) * k, 1e-6);
  const h = Math.max(maxLat - minLat, 1e-6);
  const W = 800;
  const H = Math.min(Math.max(W * (h / w), 200), 800);
  const sx = (W - 20) / w;
  const sy = (H - 20) / h;
  const s = Math.min(sx, sy);
  const x = (lon) => 10 + (lon - minLon) * k * s;
  const y = (lat) => 10 + (maxLat - lat) * s;
  map.setAttribute('viewBox', `0 0 ${W} ${H}`);
  for (const f of features) {
    const p = f.properties;
    const share = p.residents ? p.red / p.residents : 0;
    const d = rings(f.geometry).map((r) => `M${r.map(([lo, la]) => `${x(lo).toFixed(1)},${y(la).toFixed(1)}`).join('L')}Z`).join('');
    const path = document.createElementNS(SVG, 'path');
    path.setAttribute('d', d);
    path.setAttribute('fill', `rgba(176,0,32,${(0.08 + 0.82 * share).toFixed(2)})`);
    path.setAttribute('fill-rule', 'evenodd');
    path.dataset.zone = p.id;
    path.onclick = () => { $('o-zone').value = p.id; $('o-reason').focus(); };
    const title = document.createElementNS(SVG, 'title');
    title.textContent = `${p.name}: ${p.red}/${p.residents} ${t('red')}`;
    path.append(title);
    map.append(path);
    const outer = rings(f.geometry)[0] || [];
    const cx = outer.reduce((a, q) => a + x(q[0]), 0) / Math.max(outer.length, 1);
    const cy = outer.reduce((a, q) => a + y(q[1]), 0) / Math.max(outer.length, 1);
    const label = document.createElementNS(SVG, 'text');
    label.setAttribute('x', cx.toFixed(1));
    label.setAttribute('y', cy.toFixed(1));
    label.setAttribute('text-anchor', 'middle');
    // In map units: the map is 800 wide, shown at the page's width.
    label.setAttribute('font-size', '28');
    label.textContent = `${p.name} · ${Math.round(share * 100)}% ${t('red')}`;
    map.append(label);
  }
}

async function loadZones() {
  const r = await call('/v1/zones');
  if (!r.ok) return say(problem(r), true);
  const features = r.data.features;
  drawMap(features);
  $('zone-rows').replaceChildren(...features.map(({ properties: p }) => el('tr', { 'data-zone': p.id },
    el('td', {}, p.name), el('td', {}, t(p.order_level === 'none' ? 'none' : p.order_level)), el('td', {}, p.residents),
    el('td', { class: 'red-count' }, p.red), el('td', {}, p.yellow), el('td', {}, p.green), el('td', {}, p.sheltered),
    el('td', {}, p.safe_with_relatives), el('td', {}, p.not_reached))));
  const chosen = $('o-zone').value;
  $('o-zone').replaceChildren(...features.map(({ properties: p }) => el('option', { value: p.id, selected: p.id === chosen }, p.name)));
}

async function loadOrders() {
  const [orders, zones] = [await call('/v1/orders?active=true'), store('ops_zone_names') || {}];
  if (!orders.ok) return;
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
  const r = await call(`/v1/zones/${previewed.zone}/orders`, { method: 'POST', body: { level: previewed.level, reason: previewed.reason } });
  say(r.ok ? t('saved') : problem(r), !r.ok);
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
  if (!r.ok) return;
  $('disputes').replaceChildren(...r.data.map((d) => el('li', {}, el('strong', {}, `${t(d.id_type)} ···${d.id_last4}`),
    el('ul', { class: 'plain' }, ...d.records.map(documentRecord)))));
}

async function loadApprovals() {
  const r = await call('/v1/approvals?status=pending');
  if (!r.ok) return;
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
  if (!r.ok) return;
  $('alerts').replaceChildren(...r.data.map((a) => el('li', { 'data-alert': a.id },
    el('strong', {}, a.headline), ` · ${a.msg_type} · ${when(a.sent_at)}`,
    el('div', {}, `${t('recipients')} ${a.recipients} · ${t('acknowledged')} ${a.acknowledged} · ${t('pending')} `,
      el('strong', { class: 'pending' }, a.pending)),
    el('button', { type: 'button', onclick: () => downloadPending(a) }, t('download_pending')))));
}

async function loadReports() {
  const r = await call('/v1/reports?limit=100');
  if (!r.ok) return;
  const items = [...r.data.features].sort((a, b) => (b.properties.urgent - a.properties.urgent)
    || (a.properties.created_at < b.properties.created_at ? 1 : -1));
  $('reports').replaceChildren(...items.map(({ properties: p }) => el('li', {},
    p.urgent ? el('span', { class: 'urgent' }, t('urgent')) : null, ' ',
    el('strong', {}, t(p.category)), ` · ${p.status} · ${when(p.created_at)}`, el('div', {}, p.text))));
}

async function loadShelters() {
  const r = await call('/v1/shelters');
  if (!r.ok) return;
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

async function refresh() {
  try {
    await loadZones();
    const names = Object.fromEntries([...$('o-zone').options].map((o) => [o.value, o.textContent]));
    store('ops_zone_names', names);
    await Promise.all([loadOrders(), loadApprovals(), loadDisputes(), loadAlerts(), loadReports(), loadShelters()]);
  } catch (err) {
    if (!(err instanceof Offline)) throw err;
  }
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

function show() {
  for (const id of ['password-signin', 'token-door', 'setup']) $(id).hidden = true;
  $('board').hidden = false;
  $('passkey-add').hidden = !passkeys || !!token;
  refresh();
}

async function init() {
  setupLanguage(() => !$('board').hidden && refresh());
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

// The scanner at the shelter door: read a code (camera or typed), show the verdict full screen,
// then admit, check out or hand out in one tap. Without network it verifies from the saved
// verifier bundle and queues what it does, with idempotency keys, until the network returns.

import { $, api, applyWords, caller, colourBand, el, Offline, problem, say, setupLanguage, store, t, uuid, when } from './common.js';
import { loadBundle, verifyOffline } from './sc1.js';

const state = { token: null, shelter: null, bundle: null, online: true, current: null, scanning: false, enrolling: false, lastScan: null, lastScanAt: 0 };

function setOnline(online) {
  state.online = online;
  const net = $('net');
  net.textContent = t(online ? 'online' : 'offline');
  net.dataset.online = online;
  net.style.background = online ? '#fff' : '#000';
  net.style.color = online ? '#000' : '#fff';
}

// A request with the desk's token; whether the network answered shows in the header.
const request = caller(() => state.token, setOnline);
// A desk phone that was signed out (revoked on /ops, or its time ran out) keeps nothing, and
// what it was doing stops there: the sign-out is what the volunteer must read.
class SignedOut extends Error {}
window.addEventListener('unhandledrejection', (e) => { if (e.reason instanceof SignedOut) e.preventDefault(); });
async function call(path, opts) {
  const r = await request(path, opts);
  if (r.status === 401 && state.token) {
    forget();
    throw new SignedOut();
  }
  return r;
}

// What a desk keeps; the resident page on the same phone keeps its own keys, untouched here.
const DESK_KEYS = ['sc_staff', 'sc_shelter', 'sc_enrolment', 'sc_bundle', 'sc_shelters', 'sc_items', 'sc_device', 'sc_districts'];

/**
 * Drops what this phone kept as a desk. A phone signed out by an official may be lost or
 * stolen: it keeps nothing, and what it admitted offline and never sent is dropped (and said).
 * A phone whose time simply ran out keeps only that queue, so enrolling it again at the same
 * shelter sends it.
 */
function forget() {
  const expired = enrolmentOver();
  const queues = Object.keys(localStorage).filter((k) => k.startsWith('sc_queue_'));
  const pending = queues.reduce((n, k) => n + (store(k) || []).length, 0);
  for (const k of DESK_KEYS) localStorage.removeItem(k);
  if (!expired) for (const k of queues) localStorage.removeItem(k);
  state.token = null;
  state.bundle = null;
  stopCamera();
  $('desk').hidden = true;
  $('verdict').hidden = true;
  $('enrol-door').hidden = false;
  $('token-door').hidden = false;
  const left = !pending ? '' : ` ${pending} ${t(expired ? 'queue_kept' : 'queue_dropped')}`;
  say(`${t('device_ended')}${left}`, true);
}

/** An enrolled phone works until its enrolment ends, online or not. */
function enrolmentOver() {
  const e = store('sc_enrolment');
  return !!e && new Date(e.expires_at).getTime() <= Date.now();
}

async function enrolWith(text) {
  const code = text.includes('enrol=') ? text.slice(text.indexOf('enrol=') + 6) : text.trim();
  // A link opened by any page must not quietly move this desk to someone else's enrolment.
  if (store('sc_staff') && !confirm(t('enrol_replace'))) return;
  try {
    const r = await api('/v1/devices/enrol', { method: 'POST', body: { code } });
    if (!r.ok) return say(problem(r), true);
    stopCamera();
    const queued = Object.keys(localStorage).filter((k) => k.startsWith('sc_queue_') && k !== `sc_queue_${r.data.shelter_id}`);
    for (const k of [...DESK_KEYS, ...queued]) localStorage.removeItem(k);
    state.token = store('sc_staff', r.data.token);
    store('sc_shelter', r.data.shelter_id);
    store('sc_enrolment', { name: r.data.name, expires_at: r.data.expires_at });
    say(`${t('enrolled_as')} ${r.data.name}`);
    await loadDesk();
  } catch { say(t('network_error'), true); }
}

const queueKey = () => `sc_queue_${state.shelter}`;
const queue = () => store(queueKey()) || [];
function showPending() { $('pending').textContent = queue().length; }

function deviceId() {
  return store('sc_device') || store('sc_device', `browser-${uuid()}`);
}

async function refreshBundle() {
  try {
    // Neighbouring districts' lists ride along: evacuees cross district lines.
    const neighbours = store('sc_districts') || '';
    const r = await call(`/v1/verifier/bundle${neighbours ? `?districts=${encodeURIComponent(neighbours)}` : ''}`);
    if (r.ok) {
      // Checked before it is kept: against the keys pinned on this tablet's first fetch.
      const checked = await loadBundle(r.data, store('sc_trust') || []);
      store('sc_trust', checked.trust);
      store('sc_bundle', r.data);
      // The bundle's time is the server's, signed: a tablet whose clock is far off would keep
      // an old bundle too long or refuse a good one (EU verifiers were fooled by wrong dates).
      const skew = Math.round((Date.now() / 1000 - r.data.server_time) / 60);
      $('clock-warning').hidden = Math.abs(skew) <= 5;
      $('clock-warning').textContent = `${t('clock_off')} (${skew > 0 ? '+' : ''}${skew} min)`;
    }
  } catch (err) {
    // Offline: keep the saved one. A bundle no trusted key signed is said, not kept.
    if (err && err.message === 'untrusted_key') say(t('untrusted_bundle'), true);
  }
  const saved = store('sc_bundle');
  if (saved) {
    try {
      state.bundle = await loadBundle(saved, store('sc_trust') || []);
      $('bundle-age').textContent = when(state.bundle.list.issued_at);
      $('bundle-districts').textContent = [...state.bundle.districts.keys()].join(', ') || '—';
    } catch {
      state.bundle = null;
    }
  }
}

async function loadDesk() {
  if (enrolmentOver()) return forget();
  $('enrol-door').hidden = true;
  $('token-door').hidden = true;
  $('desk').hidden = false;
  const e = store('sc_enrolment');
  $('device-info').hidden = !e;
  if (e) $('device-info').textContent = `${t('enrolled_as')} ${e.name} · ${t('device_until')} ${when(e.expires_at)}`;
  let shelters = store('sc_shelters') || [];
  let items = store('sc_items') || [];
  try {
    const [s, i] = await Promise.all([call('/v1/shelters'), call('/v1/relief-items')]);
    if (s.ok) shelters = store('sc_shelters', s.data);
    if (i.ok) items = store('sc_items', i.data);
  } catch (err) {
    if (err instanceof SignedOut) return;
    /* offline: what was saved */
  }
  const chosen = store('sc_shelter');
  $('shelter').replaceChildren(el('option', { value: '' }, t('choose_shelter')),
    ...shelters.map((s) => el('option', { value: s.id, selected: s.id === chosen }, `${s.name} (${s.occupancy}/${s.capacity})`)));
  state.shelter = chosen && shelters.some((s) => s.id === chosen) ? chosen : null;
  $('item').replaceChildren(...items.map((i) => el('option', { value: i.id }, `${i.name} (${i.unit})`)));
  $('v-give').hidden = !items.length;
  showPending();
  await refreshBundle();
  sync();
}

async function signIn(e) {
  e.preventDefault();
  const token = e.target.elements.token.value.trim();
  try {
    const r = await api('/v1/shelters', { token });
    if (!r.ok) return say(problem(r), true);
    state.token = store('sc_staff', token);
    say('');
    await loadDesk();
  } catch { say(t('network_error'), true); }
}

function showVerdict(v) {
  state.current = v;
  const band = v.colour ? colourBand(v.colour)
    // Genuine, but no colour to go by: never drawn as green.
    : v.colourUnknown ? el('div', { class: 'band invalid', role: 'status', 'data-colour': 'colour_unknown' },
      el('span', { class: 'word' }, t('colour_unknown')),
      el('span', { class: 'means' }, t('colour_unknown_why').replace('{district}', v.colourUnknown)))
    : el('div', { class: 'band invalid', role: 'status', 'data-colour': v.cannotVerify ? 'cannot_verify' : 'invalid' },
      el('span', { class: 'word' }, t(v.cannotVerify ? 'cannot_verify' : 'invalid')),
      el('span', { class: 'means' }, v.cannotVerify ? t('cannot_verify_why') : v.error || ''));
  $('v-band').replaceChildren(band);
  $('v-who').textContent = v.who || '';
  $('v-needs').replaceChildren(...(v.needs || []).map((n) => el('span', { class: 'pill' }, t(n))), ' ');
  // A doubled identity document outweighs a stale colour: the card must be checked first.
  const note = v.disputed ? t('document_disputed') : v.stale ? t('stale') : '';
  $('v-note').hidden = !note;
  $('v-note').textContent = note;
  $('v-source').textContent = v.who ? `${t('compare_id')} · ${v.source || ''}` : '';
  $('v-actions').hidden = !v.colour;
  $('v-give').hidden = !v.colour || !$('item').options.length;
  $('verdict').hidden = false;
  $('next').focus();
}

async function check(token) {
  token = token.trim();
  if (!token) return;
  say('');
  try {
    const r = await call('/v1/verify', { method: 'POST', body: { token } });
    if (!r.ok) return say(problem(r), true);
    const d = r.data;
    showVerdict(d.valid ? {
      token, colour: d.current_colour, stale: d.stale, needs: d.resident.needs,
      disputed: d.resident.document_disputed,
      // The display already ends with the document's last four characters.
      who: d.resident.display_name.endsWith(d.resident.id_last4) ? d.resident.display_name
        : `${d.resident.display_name} · ${d.resident.id_last4}`,
      source: t('online'),
    } : { token, error: d.error });
  } catch (err) {
    if (!(err instanceof Offline)) throw err;
    if (enrolmentOver()) return forget();
    if (!state.bundle) return showVerdict({ token, cannotVerify: true });
    const v = await verifyOffline(token, state.bundle);
    if (v.cannotVerify) return showVerdict({ token, cannotVerify: true });
    if (v.colourUnknown) return showVerdict({ token, colourUnknown: v.district, who: v.display });
    if (!v.valid) return showVerdict({ token, error: v.error });
    showVerdict({ token, colour: v.colour, who: v.display, source: `${t('offline')} · ${v.source}` });
  }
}

/** Does one desk action online, or queues it for the sync when offline. */
async function act(kind, extra, path, done) {
  const v = state.current;
  if (!v || !state.shelter) return say(t('choose_shelter'), true);
  const key = uuid();
  const body = { token: v.token, idempotency_key: key, ...extra };
  try {
    const r = await call(`/v1/shelters/${state.shelter}/${path}`, { method: 'POST', body });
    $('verdict').hidden = true;
    say(r.ok ? t(done) : problem(r), !r.ok);
  } catch (err) {
    if (!(err instanceof Offline)) throw err;
    const q = queue();
    q.push({ type: kind, idempotency_key: key, token: v.token, device_time: new Date().toISOString(),
      device_id: deviceId(), ...extra });
    store(queueKey(), q);
    showPending();
    $('verdict').hidden = true;
    say(`${t(done)} · ${t('queued')}`);
  }
}

let syncing = false;
async function sync() {
  const q = queue();
  if (syncing || !q.length || !state.shelter) return;
  syncing = true;
  try {
    const r = await call(`/v1/shelters/${state.shelter}/sync`, { method: 'POST', body: { events: q } });
    if (!r.ok) return say(problem(r), true);
    const answered = new Set(r.data.results.map((x) => x.idempotency_key));
    store(queueKey(), queue().filter((e) => !answered.has(e.idempotency_key)));
    const conflicts = r.data.results.filter((x) => x.status === 'conflict');
    $('conflicts').replaceChildren(...conflicts.map((c) => el('li', { class: 'conflict' }, `${c.type}: ${c.reason}${c.detail ? ` — ${c.detail}` : ''}`)));
    say(`${t('synced')}: ${r.data.applied} · ${t('conflicts')}: ${r.data.conflicts}`);
    showPending();
  } catch { /* still offline */ } finally {
    syncing = false;
  }
}

async function camera(enrolling = false) {
  if (state.scanning) return stopCamera();
  state.enrolling = enrolling;
  const video = $('video');
  try {
    video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
  } catch {
    return say(t('failed'), true);
  }
  video.hidden = false;
  await video.play();
  state.scanning = true;
  $('camera').textContent = t('stop_camera');
  const canvas = $('frame');
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const tick = async () => {
    if (!state.scanning) return;
    if (video.readyState >= 2 && $('verdict').hidden && window.jsQR) {
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      ctx.drawImage(video, 0, 0);
      const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
      const found = window.jsQR(img.data, img.width, img.height, { inversionAttempts: 'dontInvert' });
      if (state.enrolling) {
        if (found && found.data.includes('enrol=')) {
          state.enrolling = false;
          await enrolWith(found.data);
        }
        if (state.scanning) requestAnimationFrame(tick);
        return;
      }
      // The code just dealt with is still in front of the camera: not again for a while.
      const repeat = found && found.data === state.lastScan && Date.now() - state.lastScanAt < 8000;
      if (found && found.data.startsWith('SC1:') && !repeat) {
        state.lastScan = found.data;
        await check(found.data);
      }
      if (found && found.data === state.lastScan) state.lastScanAt = Date.now();
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}

function stopCamera() {
  state.scanning = false;
  const video = $('video');
  for (const track of video.srcObject?.getTracks() || []) track.stop();
  video.srcObject = null;
  video.hidden = true;
  $('enrol-hint').hidden = true;
  $('camera').textContent = t('start_camera');
}

function init() {
  setupLanguage(() => setOnline(state.online));
  setOnline(true);
  $('signin').onsubmit = signIn;
  $('signout').onclick = () => { forget(); location.reload(); };
  $('enrol').onclick = () => { $('enrol-hint').hidden = false; camera(true); };
  $('shelter').onchange = (e) => { state.shelter = store('sc_shelter', e.target.value) || null; showPending(); sync(); };
  $('camera').onclick = () => camera(false);
  $('typed').onsubmit = (e) => { e.preventDefault(); const i = $('token-input'); check(i.value); i.value = ''; };
  $('neighbours').value = store('sc_districts') || '';
  $('neighbours-form').onsubmit = async (e) => {
    e.preventDefault();
    const list = $('neighbours').value.split(',').map((x) => x.trim()).filter((x) => /^[0-9]+$/.test(x));
    store('sc_districts', list.join(','));
    $('neighbours').value = list.join(',');
    await refreshBundle();
  };
  $('admit').onclick = () => act('checkin', {}, 'checkins', 'admitted');
  $('checkout').onclick = () => act('checkout', { reason: 'returned_home' }, 'checkouts', 'checked_out');
  $('give').onclick = () => act('distribution', { item_id: $('item').value, quantity: Number($('quantity').value) || 1 }, 'distributions', 'handed_out');
  $('next').onclick = () => { $('verdict').hidden = true; $('token-input').focus(); };
  $('sync').onclick = sync;
  // When the network returns, what was queued goes up; the bundle is renewed while online.
  setInterval(async () => {
    if (!state.token) return;
    if (!state.online) {
      try { await api('/healthz'); setOnline(true); } catch { return; }
    }
    sync();
  }, 3000);
  setInterval(() => state.token && state.online && refreshBundle(), 10 * 60 * 1000);
  applyWords();
  // Scanned with the phone's own camera app: the link opens this page (or, open already,
  // changes its address).
  const fromLink = () => {
    const link = location.hash.match(/^#enrol=([\w-]+)$/);
    if (!link) return false;
    history.replaceState(null, '', location.pathname);
    enrolWith(link[1]);
    return true;
  };
  window.addEventListener('hashchange', fromLink);
  if (fromLink()) return;
  state.token = store('sc_staff');
  if (state.token) loadDesk();
  else {
    $('enrol-door').hidden = false;
    $('token-door').hidden = false;
  }
}

init();

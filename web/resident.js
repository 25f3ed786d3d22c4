// The resident's page: register, then the code with its colour and reasons, family members'
// codes, alerts, "I am safe", hazard reports and appeals. The token and the last code stay on
// the device, so the code shows with no network.

import { $, api, applyWords, colourBand, el, lang, Offline, problem, say, setupLanguage, store, t, uuid, when } from './common.js';
import { qrcode } from './vendor/qrcode.js';

const NEEDS = ['elderly', 'disabled', 'pregnant', 'infant', 'medical', 'wheelchair'];
const CATEGORIES = ['flooding', 'trapped_people', 'levee_breach', 'landslide', 'road_blocked', 'power_line', 'other'];

function needsBoxes(container, prefix) {
  container.replaceChildren(...NEEDS.map((n) => el('label', {},
    el('input', { type: 'checkbox', name: `${prefix}need`, value: n }), el('span', { 'data-t': n }, t(n)))));
}

function locate(form) {
  if (!navigator.geolocation) return;
  navigator.geolocation.getCurrentPosition((p) => {
    form.elements.lat.value = p.coords.latitude.toFixed(6);
    form.elements.lon.value = p.coords.longitude.toFixed(6);
  }, () => say(t('failed'), true), { enableHighAccuracy: true, timeout: 15000 });
}

let dependentCount = 0;
function addDependent() {
  const i = dependentCount++;
  const box = el('fieldset', { class: 'dependent', 'data-i': i },
    el('legend', { 'data-t': 'dependent' }, t('dependent')),
    el('label', { 'data-t': 'name' }, t('name')), el('input', { name: `d${i}name`, required: true }),
    el('label', { 'data-t': 'id_number' }, t('id_number')), el('input', { name: `d${i}id`, required: true }),
    el('label', { 'data-t': 'birth_year' }, t('birth_year')), el('input', { name: `d${i}birth`, type: 'number' }),
    el('div', { class: 'checks' }));
  needsBoxes(box.querySelector('.checks'), `d${i}`);
  box.append(el('button', { type: 'button', onclick: () => box.remove(), 'data-t': 'remove' }, t('remove')));
  $('dependents').append(box);
}

function checked(form, name) {
  return [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((c) => c.value);
}

async function register(e) {
  e.preventDefault();
  const f = e.target;
  const num = (v) => (v === '' ? null : Number(v));
  const body = {
    name: f.elements.name.value.trim(),
    id_type: f.elements.id_type.value,
    id_number: f.elements.id_number.value.trim(),
    phone: f.elements.phone.value.trim() || null,
    address: f.elements.address.value.trim() || null,
    birth_year: num(f.elements.birth_year.value),
    needs: checked(f, 'need'),
    // SMS and group messages reach the household in the language this page is read in.
    language: lang(),
    location: f.elements.lat.value && f.elements.lon.value
      ? { lat: Number(f.elements.lat.value), lon: Number(f.elements.lon.value) } : null,
    dependents: [...f.querySelectorAll('fieldset.dependent')].map((d) => {
      const i = d.dataset.i;
      return { name: f.elements[`d${i}name`].value.trim(), id_number: f.elements[`d${i}id`].value.trim(),
        birth_year: num(f.elements[`d${i}birth`].value), needs: checked(f, `d${i}need`) };
    }),
  };
  // One key per attempt, kept until it succeeds: a retry after a lost answer registers once.
  const key = store('sc_register_key') || store('sc_register_key', uuid());
  try {
    const r = await api('/v1/residents', { method: 'POST', body, headers: { 'Idempotency-Key': key } });
    if (!r.ok) return say(problem(r), true);
    store('sc_register_key', null);
    store('sc_resident', { token: r.data.access_token, id: r.data.resident_id, dependents: r.data.dependents });
    say('');
    await showHome();
  } catch (err) {
    if (err instanceof Offline) say(t('network_error'), true);
    else throw err;
  }
}

function svgImage(svg, alt) {
  return el('img', { src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`, alt });
}

/** The QR code of `text` as an SVG, drawn here as the server draws it (level Q, alphanumeric
 * mode for a token, a 4-module quiet zone): a view of the code costs the server one signature
 * and no drawing, which is what a zone opening their codes at once needs (issue 22). */
function qrSvg(text) {
  const q = qrcode(0, 'Q');
  q.addData(text, /^[0-9A-Z $%*+\-./:]*$/.test(text) ? 'Alphanumeric' : 'Byte');
  q.make();
  const n = q.getModuleCount();
  const size = n + 8;
  let d = '';
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) if (q.isDark(y, x)) d += `M${x + 4} ${y + 4}h1v1h-1z`;
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${size} ${size}" shape-rendering="crispEdges">`
    + `<rect width="${size}" height="${size}" fill="#fff"/><path d="${d}" fill="#000"/></svg>`;
}

async function fetchCode(token, residentId) {
  const q = residentId ? `&resident_id=${encodeURIComponent(residentId)}` : '';
  const issued = await api(`/v1/residents/me/code?format=json${q}`, { token });
  if (!issued.ok) throw Object.assign(new Error('code'), { response: issued });
  return { issued: issued.data, svg: qrSvg(issued.data.token) };
}

function renderCode(code, me) {
  const colour = me?.colour || code.issued.colour;
  $('band').replaceChildren(colourBand(colour));
  $('code-image').className = `code ${colour}`;
  $('code-image').replaceChildren(svgImage(code.svg, `${t(colour)} ${code.issued.display}`));
  $('display').textContent = code.issued.display;
  $('expires').textContent = when(code.issued.expires_at);
  const reasons = me?.reasons || [];
  $('reasons').replaceChildren(...reasons.map((r) => el('li', {}, lang() === 'zh' ? r.text_zh : r.text)));
}

// Where to go: the nearest open shelters with free places, sorted here on the phone (the
// server is never told where anyone is), kept for when the network goes.
const R = 6371;
function km(a, b) {
  const rad = (d) => (d * Math.PI) / 180;
  const h = Math.sin(rad(b.lat - a.lat) / 2) ** 2
    + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(rad(b.lon - a.lon) / 2) ** 2;
  return 2 * R * Math.asin(Math.sqrt(h));
}

/** A link that opens the phone's own map app with the way there. */
function directions(s) {
  const { lat, lon } = s.location;
  if (/iPhone|iPad|iPod/.test(navigator.userAgent)) {
    return `https://maps.apple.com/?daddr=${lat},${lon}&q=${encodeURIComponent(s.name)}`;
  }
  return `geo:${lat},${lon}?q=${lat},${lon}(${encodeURIComponent(s.name)})`;
}

/** Amap (高德), which most phones in mainland China have: told the point is WGS-84, it
 * converts to its own GCJ-02 itself, so the pin is not a few hundred metres off. */
function amap(s) {
  const { lat, lon } = s.location;
  return `https://uri.amap.com/navigation?to=${lon},${lat},${encodeURIComponent(s.name)}&mode=walk&coordinate=wgs84&callnative=1`;
}

let here = null;

async function whereToGo(colour, me) {
  const section = $('where');
  section.hidden = !(colour === 'red' || colour === 'yellow');
  if (section.hidden) return;
  let saved = store('sc_shelters');
  try {
    const r = await api('/v1/shelters/open');
    if (r.ok) saved = store('sc_shelters', { at: new Date().toISOString(), list: r.data });
    $('where-note').textContent = '';
  } catch (err) {
    if (!(err instanceof Offline)) throw err;
    $('where-note').textContent = saved ? `${t('where_saved')} ${when(saved.at)}` : t('network_error');
  }
  const from = here || me?.location;
  const list = (saved?.list || []).map((s) => ({ ...s, km: from ? km(from, s.location) : null }));
  if (from) list.sort((a, b) => a.km - b.km);
  const items = list.slice(0, 5).map((s) => el('li', { 'data-shelter': s.id },
    el('strong', {}, s.name), el('br'),
    s.km === null ? null : `${s.km.toFixed(1)} ${t('km')} · `, `${s.free} ${t('free_places')}`,
    s.accessibility.length ? ` · ♿ ${s.accessibility.map(t).join(', ')}` : null, el('br'),
    el('a', { class: 'button go', href: directions(s) }, `${t('directions')} → ${s.name}`), ' ',
    el('a', { class: 'button go', href: amap(s), rel: 'noreferrer' }, t('amap'))));
  $('where-list').replaceChildren(...(items.length ? items : [el('li', {}, t('where_none'))]));
}

function useHere() {
  if (!navigator.geolocation) return;
  navigator.geolocation.getCurrentPosition((p) => {
    here = { lat: p.coords.latitude, lon: p.coords.longitude };
    whereToGo(store('sc_me')?.colour || store('sc_code')?.issued?.colour, store('sc_me'));
  }, () => say(t('network_error'), true), { enableHighAccuracy: false, timeout: 15000, maximumAge: 300000 });
}

function textSize(toggle) {
  let large = localStorage.getItem('sc_large') === '1';
  if (toggle) {
    large = !large;
    localStorage.setItem('sc_large', large ? '1' : '0');
  }
  document.documentElement.classList.toggle('large', large);
  $('bigger').setAttribute('aria-pressed', String(large));
}

async function renderFamily(res, me) {
  const ids = me?.household?.dependents?.map((d) => d.id) || res.dependents || [];
  $('family').hidden = !ids.length;
  const saved = store('sc_family') || {};
  const boxes = [];
  for (const id of ids) {
    let code = saved[id];
    try {
      code = await fetchCode(res.token, id);
      saved[id] = code;
    } catch (err) {
      if (!(err instanceof Offline) && !code) continue;
    }
    if (!code) continue;
    boxes.push(el('div', {}, colourBand(code.issued.colour),
      el('div', { class: `code ${code.issued.colour}` }, svgImage(code.svg, code.issued.display)),
      el('p', { class: 'muted' }, code.issued.display)));
  }
  store('sc_family', saved);
  $('family-codes').replaceChildren(...boxes);
}

// An alert's words in the page's language when the sender wrote them in it.
function inMyLanguage(a, want = lang()) {
  return a.translation && a.translation.language === want && a.language !== want ? a.translation : a;
}

// A one-tap link from an SMS (/a/<token>): acknowledge once, show the alert, and take the
// token out of the address bar and the history, so it is not bookmarked or shared by mistake.
async function ackFromLink() {
  const m = location.pathname.match(/^\/a\/([A-Za-z0-9_-]{22})$/);
  if (!m) return;
  history.replaceState(null, '', '/');
  let r;
  try {
    r = await api(`/v1/ack/${m[1]}`, { method: 'POST' });
  } catch {
    say(t('network_error'), true);
    return;
  }
  if (!r.ok) {
    say(problem(r), r.status !== 410);
    return;
  }
  const a = inMyLanguage(r.data.alert, r.data.language);
  document.querySelector('main').prepend(el('section', { id: 'acked', class: 'alert' },
    el('p', { 'data-t': 'ack_link_done' }, t('ack_link_done')),
    el('strong', {}, a.headline), el('p', {}, a.description),
    a.instruction ? el('p', {}, el('b', {}, a.instruction)) : null));
}

async function renderAlerts(res) {
  const r = await api('/v1/residents/me/alerts', { token: res.token });
  if (!r.ok) return;
  const items = r.data.map((raw) => {
    const a = { ...raw, ...inMyLanguage(raw) };
    const read = el('button', { type: 'button', class: a.acknowledged_at ? '' : 'primary', disabled: !!a.acknowledged_at,
      'data-t': a.acknowledged_at ? 'read' : 'read_it' }, t(a.acknowledged_at ? 'read' : 'read_it'));
    read.onclick = async () => {
      const ack = await api(`/v1/alerts/${a.id}/ack`, { method: 'POST', token: res.token });
      if (ack.ok) { read.disabled = true; read.className = ''; read.textContent = t('read'); }
    };
    return el('li', { class: 'alert', 'data-id': a.id },
      el('strong', {}, a.headline), el('p', {}, a.description), a.instruction ? el('p', {}, el('b', {}, a.instruction)) : null,
      el('p', { class: 'muted' }, `${a.severity} · ${a.urgency} · ${when(a.sent_at)}`), read);
  });
  $('alerts').replaceChildren(...(items.length ? items : [el('li', { 'data-t': 'no_alerts' }, t('no_alerts'))]));
}

async function showHome() {
  const res = store('sc_resident');
  $('register').hidden = true;
  $('home').hidden = false;
  const cached = store('sc_code');
  if (cached) {
    renderCode(cached, store('sc_me'));
    whereToGo(store('sc_me')?.colour || cached.issued.colour, store('sc_me')).catch(() => {});
  }
  try {
    const [code, me] = await Promise.all([fetchCode(res.token), api('/v1/residents/me', { token: res.token })]);
    if (me.status === 401) {
      store('sc_resident', null);
      return location.reload();
    }
    store('sc_code', code);
    if (me.ok) store('sc_me', me.data);
    // Filled once; a refresh does not undo what the resident is typing.
    if (me.ok && !$('correct').dataset.was) fillCorrection(me.data);
    renderCode(code, me.ok ? me.data : null);
    say('');
    await whereToGo(me.ok ? me.data.colour : code.issued.colour, me.ok ? me.data : null);
    await Promise.all([renderFamily(res, me.ok ? me.data : null), renderAlerts(res)]);
  } catch (err) {
    if (err instanceof Offline) say(cached ? `${t('network_error')} ${t('offline_code')}` : t('network_error'), true);
    else if (err.response) say(problem(err.response), true);
    else throw err;
  }
}

// My trail, fetched when asked for (it can be long, and old phones pay for every byte).
async function showHistory() {
  const res = store('sc_resident');
  try {
    const r = await api('/v1/residents/me/history', { token: res.token });
    if (!r.ok) return say(problem(r), true);
    const mine = lang();
    $('history').replaceChildren(...r.data.entries.map((e) => el('li', { 'data-kind': e.kind },
      el('span', { class: 'muted' }, `${when(e.at)} · ${t(`by_${e.by}`)} `), e[mine] || e.en)));
  } catch { say(t('network_error'), true); }
}

// Everything held about me: read on the page, or saved as a file to take away.
async function myData(download) {
  const res = store('sc_resident');
  try {
    const r = await api('/v1/residents/me/data', { token: res.token });
    if (!r.ok) return say(problem(r), true);
    const d = r.data;
    if (download) {
      const url = URL.createObjectURL(new Blob([JSON.stringify(d, null, 2)], { type: 'application/json' }));
      const a = el('a', { href: url, download: 'safecode-my-data.json' });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      return;
    }
    const p = d.profile;
    fillCorrection(p);
    const row = (k, v) => [el('dt', { 'data-t': k }, t(k)), el('dd', {}, v ?? '—')];
    $('my-data').replaceChildren(
      ...row('name', p.name), ...row('id_number', `…${p.id_last4}`), ...row('phone', p.phone),
      ...row('address', p.address), ...row('needs', p.needs.map((n) => t(n)).join(', ')),
      ...row('alerts', d.alerts.map((a) => `${when(a.sent_at)} ${a.headline}`).join(' · ')),
      ...row('my_reports', d.reports.map((x) => `${when(x.created_at)} ${x.text}`).join(' · ')),
      ...row('my_appeals', d.appeals.map((x) => x.text).join(' · ')),
      ...row('history_title', `${d.trail.entries.length}`),
      ...d.not_held.map((n) => el('dd', { class: 'muted' }, n)));
  } catch { say(t('network_error'), true); }
}

// The correction form starts from what is held, and sends only what was changed.
function fillCorrection(p) {
  const f = $('correct');
  f.elements.name.value = p.name || '';
  f.elements.phone.value = p.phone || '';
  f.elements.address.value = p.address || '';
  for (const b of f.querySelectorAll('input[name="need"]')) b.checked = (p.needs || []).includes(b.value);
  f.dataset.was = JSON.stringify({ name: p.name || '', phone: p.phone || '', address: p.address || '', needs: [...(p.needs || [])].sort() });
}

async function correct(e) {
  e.preventDefault();
  const f = e.target;
  const res = store('sc_resident');
  const was = JSON.parse(f.dataset.was || '{}');
  const now = {
    name: f.elements.name.value.trim(),
    phone: f.elements.phone.value.trim(),
    address: f.elements.address.value.trim(),
    needs: [...f.querySelectorAll('input[name="need"]:checked')].map((b) => b.value).sort(),
  };
  const body = {};
  if (now.name !== was.name) body.name = now.name;
  if (now.phone !== was.phone) body.phone = now.phone || null;
  if (now.address !== was.address) body.address = now.address || null;
  if (JSON.stringify(now.needs) !== JSON.stringify(was.needs)) body.needs = now.needs;
  if (!Object.keys(body).length) return say(t('no_changes'));
  try {
    const r = await api('/v1/residents/me', { method: 'PATCH', token: res.token, body });
    if (r.status === 409 && r.data && r.data.code === 'needs_an_official') return say(t('needs_official'), true);
    if (!r.ok) return say(problem(r), true);
    store('sc_me', r.data);
    fillCorrection(r.data);
    say(t('corrected'));
  } catch { say(t('network_error'), true); }
}

async function deleteMe() {
  if (!confirm(t('delete_confirm'))) return;
  const res = store('sc_resident');
  try {
    const r = await api('/v1/residents/me', { method: 'DELETE', token: res.token });
    if (!r.ok) return say(problem(r), true);
    $('delete-result').textContent = r.data[lang()] || r.data.en;
    $('delete-result').hidden = false;
    if (r.data.status === 'deleted') {
      for (const k of ['sc_resident', 'sc_code', 'sc_me', 'sc_family']) store(k, null);
    }
  } catch { say(t('network_error'), true); }
}

async function safe(status) {
  const res = store('sc_resident');
  try {
    const r = await api('/v1/residents/me/safe', { method: 'POST', token: res.token, body: { status } });
    // The colour and the alerts may have moved; the confirmation stays on screen after.
    if (r.ok) await showHome();
    say(r.ok ? t('safe_done') : problem(r), !r.ok);
  } catch { say(t('network_error'), true); }
}

async function report(e) {
  e.preventDefault();
  const f = e.target;
  const res = store('sc_resident');
  const form = new FormData();
  form.append('category', f.elements.category.value);
  form.append('text', f.elements.text.value);
  if (f.elements.lat.value && f.elements.lon.value) {
    form.append('lat', f.elements.lat.value);
    form.append('lon', f.elements.lon.value);
  }
  if (f.elements.photo.files[0]) form.append('photo', f.elements.photo.files[0]);
  try {
    const r = await api('/v1/reports', { method: 'POST', token: res.token, form });
    say(r.ok ? t('report_sent') : problem(r), !r.ok);
    if (r.ok) f.reset();
  } catch { say(t('network_error'), true); }
}

async function appeal(e) {
  e.preventDefault();
  const res = store('sc_resident');
  try {
    const r = await api('/v1/residents/me/appeals', { method: 'POST', token: res.token, body: { text: e.target.elements.text.value } });
    say(r.ok ? t('appeal_sent') : problem(r), !r.ok);
    if (r.ok) e.target.reset();
  } catch { say(t('network_error'), true); }
}

/** An official who took a record back shows a QR code of `/#access=TOKEN`: the fragment never
 * reaches a server; it is kept like a registration's token and wiped from the address bar. */
function takeBack() {
  const m = /^#access=([A-Za-z0-9_-]{20,200})$/.exec(location.hash);
  if (!m) return false;
  history.replaceState(null, '', location.pathname + location.search);
  for (const k of ['sc_resident', 'sc_code', 'sc_me', 'sc_family']) store(k, null);
  store('sc_resident', { token: m[1] });
  return true;
}

function init() {
  const returned = takeBack();
  needsBoxes(document.querySelector('#register .needs'), '');
  $('rep-cat').replaceChildren(...CATEGORIES.map((c) => el('option', { value: c, 'data-t': c }, t(c))));
  for (const b of document.querySelectorAll('button.locate')) b.onclick = () => locate(b.closest('form'));
  $('add-dependent').onclick = addDependent;
  $('register').onsubmit = register;
  $('refresh').onclick = showHome;
  $('show-history').onclick = showHistory;
  $('show-data').onclick = () => myData(false);
  $('delete-me').onclick = deleteMe;
  needsBoxes(document.querySelector('#correct .needs'), '');
  $('correct').onsubmit = correct;
  const me = store('sc_me');
  if (me) fillCorrection(me);
  $('download-data').onclick = () => myData(true);
  $('safe-home').onclick = () => safe('at_home');
  $('safe-relatives').onclick = () => safe('with_relatives');
  $('report').onsubmit = report;
  $('appeal').onsubmit = appeal;
  $('where-here').onclick = useHere;
  $('bigger').onclick = () => textSize(true);
  textSize(false);
  setupLanguage(() => {
    const c = store('sc_code');
    if (c && !$('home').hidden) renderCode(c, store('sc_me'));
    const res = store('sc_resident');
    if (res) api('/v1/residents/me/language', { method: 'PUT', token: res.token, body: { language: lang() } }).catch(() => {});
  });
  if (store('sc_resident')) showHome().then(() => { if (returned) say(t('signed_in_again')); });
  else $('register').hidden = false;
  applyWords();
  ackFromLink();
}

init();

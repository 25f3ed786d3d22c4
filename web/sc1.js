// Verifying SC1 codes in the browser, offline, with a verifier bundle (docs/sc1.md,
// docs/offline.md): base45, CBOR, COSE_Sign1 with Ed25519, the signed status list. The same
// order of checks and the same answers as `safecode verify --bundle`.

import { verifyAsync as nobleVerify } from './vendor/noble-ed25519.js';

const B45 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';

export function base45Decode(text) {
  const out = [];
  for (let i = 0; i < text.length; i += 3) {
    const chunk = text.slice(i, i + 3);
    const v = [...chunk].map((c) => B45.indexOf(c));
    if (v.some((x) => x < 0) || chunk.length === 1) throw new Error('malformed');
    const n = v[0] + v[1] * 45 + (chunk.length === 3 ? v[2] * 2025 : 0);
    if (chunk.length === 3) {
      if (n > 0xffff) throw new Error('malformed');
      out.push(n >> 8, n & 0xff);
    } else {
      if (n > 0xff) throw new Error('malformed');
      out.push(n);
    }
  }
  return new Uint8Array(out);
}

/** Decodes one CBOR item (the subset COSE and CWT use); throws on anything else. */
export function cborDecode(bytes) {
  let pos = 0;
  const need = (n) => { if (pos + n > bytes.length) throw new Error('malformed'); };
  const arg = (info) => {
    if (info < 24) return info;
    const len = { 24: 1, 25: 2, 26: 4, 27: 8 }[info];
    if (!len) throw new Error('malformed');
    need(len);
    let v = 0;
    for (let i = 0; i < len; i++) v = v * 256 + bytes[pos++];
    if (!Number.isSafeInteger(v)) throw new Error('malformed');
    // Only the shortest spelling, as the server's verifier: one code, one string.
    if (v < [24, 256, 65536, 2 ** 32][len === 8 ? 3 : len >> 1]) throw new Error('malformed');
    return v;
  };
  const item = (depth) => {
    if (depth > 16) throw new Error('malformed');
    need(1);
    const first = bytes[pos++];
    const major = first >> 5;
    const info = first & 31;
    switch (major) {
      case 0: return arg(info);
      case 1: return -1 - arg(info);
      case 2: { const n = arg(info); need(n); const b = bytes.slice(pos, pos + n); pos += n; return b; }
      case 3: {
        const n = arg(info); need(n);
        const s = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(pos, pos + n));
        pos += n; return s;
      }
      case 4: { const n = arg(info); const a = []; for (let i = 0; i < n; i++) a.push(item(depth + 1)); return a; }
      case 5: {
        const n = arg(info); const m = new Map();
        for (let i = 0; i < n; i++) { const k = item(depth + 1); m.set(k, item(depth + 1)); }
        return m;
      }
      case 6: return { tag: arg(info), value: item(depth + 1) };
      case 7:
        if (info === 20) return false;
        if (info === 21) return true;
        if (info === 22) return null;
        throw new Error('malformed');
      default: throw new Error('malformed');
    }
  };
  const v = item(0);
  if (pos !== bytes.length) throw new Error('malformed');
  return v;
}

function cborHead(major, n) {
  if (n < 24) return [(major << 5) | n];
  if (n < 256) return [(major << 5) | 24, n];
  if (n < 65536) return [(major << 5) | 25, n >> 8, n & 0xff];
  return [(major << 5) | 26, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
}

/** RFC 9052 Sig_structure for COSE_Sign1, CBOR-encoded. */
function sigStructure(protectedBytes, payload) {
  const ctx = new TextEncoder().encode('Signature1');
  const parts = [cborHead(4, 4), cborHead(3, ctx.length), ctx, cborHead(2, protectedBytes.length),
    protectedBytes, cborHead(2, 0), cborHead(2, payload.length), payload];
  const len = parts.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(len);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** {protectedBytes, alg, kid, payload, signature} of a COSE_Sign1, tag 18 or none. */
export function parseSign1(bytes) {
  let v = cborDecode(bytes);
  if (v && v.tag !== undefined) {
    if (v.tag !== 18) throw new Error('malformed');
    v = v.value;
  }
  if (!Array.isArray(v) || v.length !== 4 || !(v[0] instanceof Uint8Array)
    || !(v[2] instanceof Uint8Array) || !(v[3] instanceof Uint8Array)) throw new Error('malformed');
  const prot = v[0].length ? cborDecode(v[0]) : new Map();
  if (!(prot instanceof Map)) throw new Error('malformed');
  return { protectedBytes: v[0], alg: prot.get(1), kid: prot.get(4), payload: v[2], signature: v[3] };
}

const hex = (b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');

function b64urlDecode(s) {
  const std = s.replace(/-/g, '+').replace(/_/g, '/');
  return Uint8Array.from(atob(std + '='.repeat((4 - (std.length % 4)) % 4)), (c) => c.charCodeAt(0));
}

let webCryptoEd25519 = true;

async function ed25519Verify(publicKey, signature, message) {
  if (signature.length !== 64) return false;
  if (webCryptoEd25519) {
    try {
      const key = await crypto.subtle.importKey('raw', publicKey, { name: 'Ed25519' }, false, ['verify']);
      return await crypto.subtle.verify({ name: 'Ed25519' }, key, signature, message);
    } catch {
      // This browser's WebCrypto has no Ed25519: use the vendored implementation from now on.
      webCryptoEd25519 = false;
    }
  }
  try {
    return await nobleVerify(signature, message, publicKey);
  } catch {
    return false;
  }
}

/** Keys from a JWKS with their SC1 kid (first 8 bytes of SHA-256 of the raw key). */
export async function loadKeys(jwks) {
  const keys = [];
  for (const k of jwks.keys || []) {
    if (k.kty !== 'OKP' || k.crv !== 'Ed25519' || typeof k.x !== 'string') continue;
    const x = b64urlDecode(k.x);
    if (x.length !== 32) continue;
    const kid = hex(new Uint8Array(await crypto.subtle.digest('SHA-256', x)).slice(0, 8));
    keys.push({ kid, x, revoked: k.status === 'revoked' });
  }
  return keys;
}

/** 'ok', 'revoked_key', 'bad_signature' or 'unknown_key' for a parsed COSE_Sign1. */
async function checkSignature(cose, keys) {
  const kid = cose.kid instanceof Uint8Array ? hex(cose.kid) : null;
  const candidates = keys.filter((k) => k.kid === kid);
  if (!candidates.length) return 'unknown_key';
  const message = sigStructure(cose.protectedBytes, cose.payload);
  let revokedOnly = false;
  for (const k of candidates) {
    if (await ed25519Verify(k.x, cose.signature, message)) {
      if (!k.revoked) return 'ok';
      revokedOnly = true;
    }
  }
  return revokedOnly ? 'revoked_key' : 'bad_signature';
}

// Slots a list may declare: a whole province (Zhejiang has 65 million people) and then some.
// Past this a bundle is refused before anything is allocated for it.
export const MAX_SLOTS = 1 << 26;

// Inflates at most `expected` bytes: a small, signed but hostile list cannot expand into the
// phone's memory (a zlib bomb), and a list that inflates to more or less is refused.
async function inflate(bytes, expected) {
  const reader = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate')).getReader();
  const out = new Uint8Array(expected);
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (n + value.length > expected) {
      await reader.cancel();
      throw new Error('bad_bundle');
    }
    out.set(value, n);
    n += value.length;
  }
  if (n !== expected) throw new Error('bad_bundle');
  return out;
}

function b64urlEncode(bytes) {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * The bundle's keys this verifier may believe: those it trusts (pinned on its first fetch, as
 * base64url of the raw key), and those a believed key vouches for in the bundle's
 * endorsements, transitively. A bundle swapped wholesale, with another key, gets none.
 */
async function believed(keys, trusted, endorsements) {
  const accepted = keys.filter((k) => trusted.includes(b64urlEncode(k.x)));
  for (;;) {
    const vouching = accepted.filter((k) => !k.revoked);
    const before = accepted.length;
    for (const e of endorsements || []) {
      let cose;
      try {
        cose = parseSign1(Uint8Array.from(atob(e), (c) => c.charCodeAt(0)));
      } catch { continue; }
      if (cose.alg !== -8 || (await checkSignature(cose, vouching)) !== 'ok') continue;
      const p = cborDecode(cose.payload);
      if (!(p instanceof Map) || p.get('typ') !== 'safecode/key' || !(p.get('x') instanceof Uint8Array)) continue;
      const x = b64urlEncode(p.get('x'));
      const k = keys.find((key) => b64urlEncode(key.x) === x);
      if (k && !accepted.includes(k)) accepted.push(k);
    }
    if (accepted.length === before) return accepted;
  }
}

/**
 * Checks a bundle as downloaded (JSON) and returns what offline verification needs; throws
 * Error('bad_bundle') when its list does not verify or its plain fields differ from the list,
 * and Error('untrusted_key') when `trusted` (base64url keys) is given and neither it nor a key
 * it vouches for signed the list. `trust` in the answer is what to keep for next time.
 */
export async function loadBundle(json, trusted) {
  if (json.format !== 'safecode-bundle/1') throw new Error('bad_bundle');
  let keys = await loadKeys(json.jwks || {});
  if (trusted && trusted.length) {
    keys = await believed(keys, trusted, json.endorsements);
    if (!keys.length) throw new Error('untrusted_key');
  }
  const list = await signedList(json.status_list, keys, trusted);
  const same = list.district === undefined && list.issued_at === json.server_time
    && list.expires_at - list.issued_at === json.max_age_seconds
    && list.rules_version === json.rules_version;
  if (!same) throw new Error('bad_bundle');
  // Each district's list signs its own number: one passed off as another's is refused.
  const districts = new Map();
  for (const d of json.district_lists || []) {
    const l = await signedList(d, keys, trusted);
    if (l.district !== d.district || districts.has(l.district)) throw new Error('bad_bundle');
    districts.set(l.district, l);
  }
  const trust = [...new Set([...(trusted || []), ...keys.filter((k) => !k.revoked).map((k) => b64urlEncode(k.x))])];
  return { keys, list, districts, trust };
}

/** One signed list of a bundle, checked against its plain fields and inflated. */
async function signedList(entry, keys, trusted) {
  if (!entry || typeof entry.cose !== 'string') throw new Error('bad_bundle');
  const raw = Uint8Array.from(atob(entry.cose), (c) => c.charCodeAt(0));
  const cose = parseSign1(raw);
  const signed = cose.alg === -8 ? await checkSignature(cose, keys) : 'unsupported_alg';
  if (signed === 'unknown_key' && trusted && trusted.length) throw new Error('untrusted_key');
  if (signed !== 'ok') throw new Error('bad_bundle');
  const p = cborDecode(cose.payload);
  if (!(p instanceof Map)) throw new Error('bad_bundle');
  const list = {
    district: p.get('district'),
    epoch: p.get('epoch'), issued_at: p.get('issued_at'), expires_at: p.get('expires_at'),
    rules_version: p.get('rules_version'), count: p.get('count'), bits: p.get('bits'),
  };
  const same = list.epoch === entry.epoch && list.issued_at === entry.issued_at
    && list.expires_at === entry.expires_at;
  if (!same || !(list.bits instanceof Uint8Array) || !Number.isInteger(list.count)
    || list.count <= 0 || list.count > MAX_SLOTS
    || (list.district !== undefined && !validDistrict(list.district))) throw new Error('bad_bundle');
  list.bits = await inflate(list.bits, Math.ceil(list.count / 4));
  return list;
}

function validDistrict(d) {
  return Number.isInteger(d) && d >= 1 && d <= 128;
}

function slot(list, index) {
  if (!Number.isInteger(index) || index < 0 || index >= list.count) return null;
  return (list.bits[index >> 2] >> (2 * (index & 3))) & 3;
}

const COLOURS = ['green', 'yellow', 'red'];

/**
 * Verifies a code offline. {valid: true, colour, source, display, subject, expires_at},
 * {valid: false, error}, {cannotVerify: true}, or {colourUnknown: true, district, display,
 * subject, expires_at} for a genuine code of a district whose list the bundle lacks.
 */
export async function verifyOffline(text, bundle, deviceNow = Math.floor(Date.now() / 1000)) {
  let newest = bundle.list.issued_at;
  for (const l of (bundle.districts || new Map()).values()) newest = Math.max(newest, l.issued_at);
  const now = Math.max(deviceNow, newest);
  if (now >= bundle.list.expires_at) return { cannotVerify: true };
  const bad = (error) => ({ valid: false, error });
  if (typeof text !== 'string' || text.length > 1024 || !text.startsWith('SC1:')) return bad('malformed');
  let cose;
  try {
    cose = parseSign1(base45Decode(text.slice(4)));
  } catch {
    return bad('malformed');
  }
  if (cose.alg !== -8) return bad('unsupported_alg');
  if (!(cose.kid instanceof Uint8Array) || cose.kid.length !== 8) return bad('malformed');
  const sig = await checkSignature(cose, bundle.keys);
  if (sig !== 'ok') return bad(sig);
  let c;
  try {
    c = cborDecode(cose.payload);
  } catch {
    return bad('malformed');
  }
  const claims = c instanceof Map && {
    sub: c.get(2), iat: c.get(6), exp: c.get(4), colour: c.get(-65537),
    index: c.get(-65538), display: c.get(-65540), district: c.get(-65541),
  };
  if (!claims || typeof claims.sub !== 'string' || !Number.isInteger(claims.iat)
    || !Number.isInteger(claims.exp) || !COLOURS[claims.colour] || !Number.isInteger(claims.index)
    || typeof claims.display !== 'string'
    || (claims.district !== undefined && !validDistrict(claims.district))) return bad('malformed');
  if (claims.iat > now + 300) return bad('not_yet_valid');
  if (claims.exp <= now) return bad('expired');
  const list = claims.district === undefined ? bundle.list : (bundle.districts || new Map()).get(claims.district);
  // A genuine code of a district this bundle lacks: its colour now is not known here, and the
  // colour it was issued with is no guide to it.
  if (!list) {
    return {
      colourUnknown: true, district: claims.district, display: claims.display,
      subject: claims.sub, expires_at: claims.exp,
    };
  }
  if (now >= list.expires_at) return { cannotVerify: true };
  const fromList = list.issued_at >= claims.iat ? slot(list, claims.index) : null;
  if (fromList === 3) return bad('revoked');
  return {
    valid: true,
    colour: fromList === null ? COLOURS[claims.colour] : COLOURS[fromList],
    source: fromList === null ? 'code' : `list ${claims.district === undefined ? '' : `${claims.district}/`}${list.epoch}`,
    display: claims.display,
    subject: claims.sub,
    expires_at: claims.exp,
  };
}

// Keeps the pages on the device so they open with no network: the resident's saved code, the
// scanner with its bundle. Network first (an update shows at once when online), the saved copy
// when the network fails. API answers are never cached here: the pages keep what they need.
// The server fills in the shell (every page and asset it embeds) and a version drawn from their
// contents, so a release with a changed page installs a new cache and drops the old one.
const CACHE = 'safecode-pages-/*VERSION*/';
const SHELL = [/*SHELL*/];

self.addEventListener('install', (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (e) => {
  e.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== 'GET' || url.origin !== location.origin || !SHELL.includes(url.pathname)) return;
  e.respondWith(fetch(e.request).then((res) => {
    if (res.ok) {
      const copy = res.clone();
      caches.open(CACHE).then((c) => c.put(url.pathname, copy));
    }
    return res;
  }).catch(() => caches.match(url.pathname).then((hit) => hit || Response.error())));
});

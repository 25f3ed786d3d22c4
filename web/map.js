// The console's map: Leaflet (vendored, web/vendor/leaflet.js) over base tiles from the
// configured source (a tile server, or the MBTiles file this server serves), or over a plain
// background when there is none. Zones shaded by their share of red, shelters with their
// places, hazard reports (urgent ones larger and marked "!"), alerts' areas dashed; drawing a
// new zone point by point and dragging an existing zone's corners.

import { t } from './common.js';

const L = window.L;

/** Rings of a Polygon or MultiPolygon, as [[lon, lat], ...] with the closing point. */
function polygonsOf(geometry) {
  if (geometry.type === 'Polygon') return [geometry.coordinates];
  if (geometry.type === 'MultiPolygon') return geometry.coordinates;
  return [];
}

const latLngs = (ring) => ring.map(([lon, lat]) => [lat, lon]);
const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export class ZoneMap {
  constructor(container, call, { onZone } = {}) {
    this.container = container;
    this.call = call;
    this.onZone = onZone || (() => {});
    this.fitted = false;
    this.draft = null;
    this.editing = null;
    // For tests and the browser's console: the map behind the element.
    container.zoneMap = this;
  }

  async init() {
    let cfg = { tile_url: null, attribution: '', max_zoom: 19 };
    try {
      const r = await this.call('/v1/map');
      if (r.ok) cfg = r.data;
    } catch { /* offline: a plain background */ }
    this.map = L.map(this.container, { zoomSnap: 0.5 }).setView([30, 120], 9);
    this.map.attributionControl.setPrefix(false);
    if (cfg.tile_url) {
      this.tiles = L.tileLayer(cfg.tile_url, {
        maxZoom: cfg.max_zoom,
        attribution: escapeHtml(cfg.attribution || ''),
        // Tiles are pictures: screen readers skip them.
        alt: '',
      }).addTo(this.map);
    } else {
      this.container.classList.add('plain');
    }
    this.layers = {
      alerts: L.layerGroup().addTo(this.map),
      zones: L.layerGroup().addTo(this.map),
      shelters: L.layerGroup().addTo(this.map),
      reports: L.layerGroup().addTo(this.map),
      drafts: L.layerGroup().addTo(this.map),
    };
    return this;
  }

  zones(features) {
    this.layers.zones.clearLayers();
    const bounds = L.latLngBounds([]);
    for (const f of features) {
      const p = f.properties;
      if (!f.geometry) continue;
      const share = p.residents ? p.red / p.residents : 0;
      const layer = L.polygon(polygonsOf(f.geometry).map((poly) => poly.map(latLngs)), {
        color: '#000', weight: p.order_level === 'none' ? 2 : 4, fillColor: '#b00020',
        fillOpacity: 0.08 + 0.6 * share, dashArray: p.order_level === 'advisory' ? '8 6' : null,
      });
      // Words as well as shade: the name, the red share and the order, inside the zone.
      const order = p.order_level === 'none' ? '' : ` · ${t(p.order_level)}`;
      layer.bindTooltip(`${escapeHtml(p.name)} · ${Math.round(share * 100)}% ${t('red')}${order}`,
        { permanent: true, direction: 'center', className: 'zone-label' });
      layer.on('click', () => this.onZone(f));
      layer.addTo(this.layers.zones);
      const path = layer.getElement();
      if (path) {
        // A zone is a button for the keyboard too: Tab to it, Enter opens its panel.
        path.dataset.zone = p.id;
        path.setAttribute('role', 'button');
        path.setAttribute('tabindex', '0');
        path.setAttribute('aria-label', p.name);
        path.addEventListener('keydown', (e) => {
          if (e.key === 'Enter' || e.key === ' ') {
            e.preventDefault();
            this.onZone(f);
          }
        });
      }
      bounds.extend(layer.getBounds());
    }
    if (!this.fitted && bounds.isValid()) {
      this.map.fitBounds(bounds, { padding: [20, 20] });
      this.fitted = true;
    }
  }

  shelters(list) {
    this.layers.shelters.clearLayers();
    for (const s of list) {
      const full = s.free <= 0 || s.status !== 'open';
      const m = L.circleMarker([s.location.lat, s.location.lon], {
        radius: 9, color: '#0b3d91', weight: 3, fillColor: full ? '#888' : '#fff', fillOpacity: 1,
      });
      m.bindTooltip(`⌂ ${escapeHtml(s.name)} ${s.occupancy}/${s.capacity}${full ? ` · ${t(s.status)}` : ''}`,
        { permanent: true, direction: 'right', offset: [8, 0], className: 'shelter-label' });
      m.addTo(this.layers.shelters);
      m.getElement()?.setAttribute('data-shelter', s.id);
    }
  }

  reports(features) {
    this.layers.reports.clearLayers();
    // Urgent last, so they are drawn on top.
    const sorted = [...features].sort((a, b) => a.properties.urgent - b.properties.urgent);
    for (const f of sorted) {
      const [lon, lat] = f.geometry.coordinates;
      const p = f.properties;
      const m = L.circleMarker([lat, lon], {
        radius: p.urgent ? 10 : 6, color: p.urgent ? '#b00020' : '#7a4b00', weight: 3,
        fillColor: '#fff', fillOpacity: 1,
      });
      m.bindTooltip(`${p.urgent ? `! ${t('urgent')} · ` : ''}${escapeHtml(t(p.category))}: ${escapeHtml(p.text)}`,
        { permanent: !!p.urgent, direction: 'top', className: 'report-label' });
      m.addTo(this.layers.reports);
      m.getElement()?.setAttribute('data-report', p.id);
    }
  }

  alerts(list) {
    this.layers.alerts.clearLayers();
    for (const a of list) {
      for (const area of a.areas || []) {
        const layer = L.polygon(polygonsOf(area.geometry).map((poly) => poly.map(latLngs)), {
          color: '#6a1b9a', weight: 2, dashArray: '2 6', fill: false, interactive: false,
        });
        layer.addTo(this.layers.alerts);
        layer.getElement()?.setAttribute('data-alert', a.id);
      }
    }
  }

  // Drawing: each click (or tap) adds a corner; finish closes the ring.
  startDrawing() {
    this.cancelDrawing();
    this.draft = { points: [], line: L.polyline([], { color: '#0b3d91', weight: 3, dashArray: '6 4' }).addTo(this.layers.drafts), dots: [] };
    this.map.doubleClickZoom.disable();
    this.container.classList.add('drawing');
    this.onClick = (e) => {
      this.draft.points.push([e.latlng.lng, e.latlng.lat]);
      this.draft.line.setLatLngs(this.draft.points.map(([lon, lat]) => [lat, lon]));
      this.draft.dots.push(L.circleMarker(e.latlng, { radius: 5, color: '#0b3d91', fillOpacity: 1, interactive: false }).addTo(this.layers.drafts));
    };
    this.map.on('click', this.onClick);
  }

  /** The drawn polygon as a GeoJSON geometry, or null when fewer than three corners. */
  finishDrawing() {
    if (!this.draft || this.draft.points.length < 3) return null;
    const ring = [...this.draft.points, this.draft.points[0]];
    this.stopDrawing();
    return { type: 'Polygon', coordinates: [ring] };
  }

  stopDrawing() {
    if (this.onClick) this.map.off('click', this.onClick);
    this.onClick = null;
    this.map.doubleClickZoom.enable();
    this.container.classList.remove('drawing');
  }

  cancelDrawing() {
    this.stopDrawing();
    this.draft = null;
    this.layers.drafts.clearLayers();
  }

  /** Shows a drawn or imported geometry (blue when accepted, red and labelled when refused). */
  showDraft(geometry, { label, refused = false } = {}) {
    const layer = L.polygon(polygonsOf(geometry).map((poly) => poly.map(latLngs)), {
      color: refused ? '#b00020' : '#0b3d91', weight: 3, dashArray: '6 4', fillOpacity: 0.1,
    }).addTo(this.layers.drafts);
    if (label) layer.bindTooltip(escapeHtml(label), { permanent: true, direction: 'center', className: refused ? 'draft-label refused' : 'draft-label' });
    layer.getElement()?.classList.add(refused ? 'draft-refused' : 'draft-ok');
    return layer;
  }

  clearDrafts() {
    this.layers.drafts.clearLayers();
  }

  fit(geometry) {
    const b = L.polygon(polygonsOf(geometry).map((poly) => poly.map(latLngs))).getBounds();
    if (b.isValid()) this.map.fitBounds(b, { padding: [30, 30], maxZoom: 16 });
  }

  // Editing: a handle on each corner, dragged to move it. The geometry comes back closed.
  edit(geometry) {
    this.stopEditing();
    const polys = polygonsOf(geometry).map((poly) => poly.map((ring) => ring.slice(0, -1).map((p) => [...p])));
    const shape = L.polygon(polys.map((poly) => poly.map(latLngs)), { color: '#0b3d91', weight: 3, fillOpacity: 0.15 }).addTo(this.layers.drafts);
    const handles = [];
    polys.forEach((poly, i) => poly.forEach((ring, j) => ring.forEach((pt, k) => {
      const h = L.marker([pt[1], pt[0]], {
        draggable: true, keyboard: true, title: `${t('corner')} ${k + 1}`, alt: `${t('corner')} ${k + 1}`,
        icon: L.divIcon({ className: 'vertex', iconSize: [18, 18] }),
      }).addTo(this.layers.drafts);
      h.on('drag', (e) => {
        const ll = e.target.getLatLng();
        polys[i][j][k] = [ll.lng, ll.lat];
        shape.setLatLngs(polys.map((poly2) => poly2.map(latLngs)));
      });
      handles.push(h);
    })));
    this.editing = { polys, multi: geometry.type === 'MultiPolygon' };
  }

  /** The edited geometry, closed again. */
  edited() {
    if (!this.editing) return null;
    const close = (ring) => [...ring, ring[0]];
    const polys = this.editing.polys.map((poly) => poly.map(close));
    return this.editing.multi ? { type: 'MultiPolygon', coordinates: polys } : { type: 'Polygon', coordinates: polys[0] };
  }

  stopEditing() {
    this.editing = null;
    this.layers.drafts.clearLayers();
  }
}

/** Zones from a GeoJSON or KML file: [{name, geometry}] (a feature without a usable shape
 * keeps `geometry: null` and is reported, not dropped). */
export function parseZoneFile(text, fileName) {
  const base = fileName.replace(/\.[^.]+$/, '');
  const trimmed = text.trim();
  if (trimmed.startsWith('<')) return parseKml(trimmed, base);
  const doc = JSON.parse(trimmed);
  const features = doc.type === 'FeatureCollection' ? doc.features
    : doc.type === 'Feature' ? [doc] : [{ type: 'Feature', properties: {}, geometry: doc }];
  return features.map((f, i) => {
    const p = f.properties || {};
    return { name: String(p.name ?? p.Name ?? p.NAME ?? p['名称'] ?? `${base} ${i + 1}`), geometry: f.geometry || null };
  });
}

function kmlRing(node) {
  const text = node?.getElementsByTagName('coordinates')[0]?.textContent || '';
  return text.trim().split(/\s+/).filter(Boolean).map((c) => c.split(',').slice(0, 2).map(Number));
}

function parseKml(text, base) {
  const xml = new DOMParser().parseFromString(text, 'application/xml');
  if (xml.getElementsByTagName('parsererror').length) throw new Error('KML');
  return [...xml.getElementsByTagName('Placemark')].map((pm, i) => {
    const name = pm.getElementsByTagName('name')[0]?.textContent?.trim() || `${base} ${i + 1}`;
    const polys = [...pm.getElementsByTagName('Polygon')].map((pg) => [
      kmlRing(pg.getElementsByTagName('outerBoundaryIs')[0]),
      ...[...pg.getElementsByTagName('innerBoundaryIs')].map(kmlRing),
    ]);
    const geometry = polys.length === 0 ? null
      : polys.length === 1 ? { type: 'Polygon', coordinates: polys[0] } : { type: 'MultiPolygon', coordinates: polys };
    return { name, geometry };
  });
}

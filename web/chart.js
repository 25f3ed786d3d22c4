// A zone's last hours in one small picture: must move, sheltered, safe with relatives, not
// reached. Each line has its own dash pattern and its own label with the latest number, so the
// chart reads without telling colours apart.

import { el, t } from './common.js';

const SVG = 'http://www.w3.org/2000/svg';
export const SERIES = [
  { key: 'must_move', colour: '#b00020', dash: '' },
  { key: 'not_reached', colour: '#7a4b00', dash: '2 3' },
  { key: 'sheltered', colour: '#0b3d91', dash: '8 3' },
  { key: 'safe_with_relatives', colour: '#0a6b2d', dash: '4 2 1 2' },
];

function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

/** A figure: the chart (or "no samples yet") and a legend with the latest counts. */
export function zoneChart(name, points) {
  const W = 320;
  const H = 110;
  const fig = el('figure', { class: 'chart' }, el('figcaption', {}, name));
  const last = points[points.length - 1];
  if (points.length < 1) {
    fig.append(el('p', { class: 'muted' }, t('no_samples')));
    return fig;
  }
  const max = Math.max(1, ...points.flatMap((p) => SERIES.map((s) => p[s.key])));
  const t0 = Date.parse(points[0].at);
  const t1 = Math.max(Date.parse(last.at), t0 + 1);
  const x = (at) => 4 + ((Date.parse(at) - t0) / (t1 - t0)) * (W - 8);
  const y = (v) => H - 4 - (v / max) * (H - 8);
  const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', class: 'spark' });
  chart.append(svg('title', {}));
  chart.firstChild.textContent = `${name}: ${SERIES.map((s) => `${t(s.key)} ${last[s.key]}`).join(', ')}`;
  chart.append(svg('line', { x1: 0, y1: H - 4, x2: W, y2: H - 4, stroke: '#888', 'stroke-width': 1 }));
  for (const s of SERIES) {
    const pts = points.length === 1
      ? `4,${y(points[0][s.key])} ${W - 4},${y(points[0][s.key])}`
      : points.map((p) => `${x(p.at).toFixed(1)},${y(p[s.key]).toFixed(1)}`).join(' ');
    chart.append(svg('polyline', { points: pts, fill: 'none', stroke: s.colour, 'stroke-width': 2.5, 'stroke-dasharray': s.dash, 'data-series': s.key }));
  }
  fig.append(chart, el('ul', { class: 'legend' }, ...SERIES.map((s) => el('li', { 'data-series': s.key },
    el('span', { class: `swatch ${s.key}`, 'aria-hidden': 'true' }), `${t(s.key)} `, el('strong', {}, last[s.key])))));
  return fig;
}

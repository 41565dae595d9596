import { h } from '../lib/dom.js';
import type { Cluster, NodeView, TrafficPoint } from './api.js';

// The cluster part of the dashboard: a summary of the last minute, one row per node, a small chart of
// messages in and delivered per second, and the same figures as a table (what a screen reader reads).

const ROLE_ORDER = { business: 0, dispatcher: 1, worker: 2 } as const;
const TABLE_ROWS = 12; // a minute at the default 5 s step

export function renderCluster(cluster: Cluster, els: ClusterElements): void {
  const { lastMinute } = cluster.traffic;
  els.summary.replaceChildren(
    ...figure('Messages in', `${rate(lastMinute.messagesIn)} /s`),
    ...figure('Send p99', ms(lastMinute.sendP99Ms)),
    ...figure('Delivered', `${rate(lastMinute.delivered)} /s`),
    ...figure('Delivery p99', ms(lastMinute.deliveryP99Ms)),
    ...figure('Connections', String(totalConnections(cluster.nodes))),
  );
  const nodes = [...cluster.nodes].sort(
    (a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role] || (a.id < b.id ? -1 : 1),
  );
  els.nodes.replaceChildren(...nodes.map(nodeRow));
  const points = cluster.traffic.points;
  els.traffic.replaceChildren(...points.slice(-TABLE_ROWS).reverse().map(trafficRow));
  drawChart(els.chart, points);
  els.updated.textContent = `Updated ${new Date(cluster.now).toLocaleTimeString()}`;
}

export interface ClusterElements {
  summary: HTMLElement;
  nodes: HTMLElement;
  traffic: HTMLElement;
  chart: SVGSVGElement;
  updated: HTMLElement;
}

/** One name/value pair; a div may group them inside a dl, which keeps each pair together in the grid. */
function figure(name: string, value: string): Node[] {
  return [h('div', {}, h('dt', { text: name }), h('dd', { text: value }))];
}

function totalConnections(nodes: NodeView[]): number {
  return nodes.reduce((sum, n) => sum + (n.role === 'worker' ? (n.connections ?? 0) : 0), 0);
}

function nodeRow(node: NodeView): HTMLTableRowElement {
  const state = node.reachable ? 'up' : 'unreachable';
  return h(
    'tr',
    { 'data-role': node.role, 'data-node': node.id },
    h('td', { text: node.role }),
    h('td', { text: node.id }),
    h('td', { class: 'mono', text: node.address }),
    h('td', { text: node.uptimeSeconds === null ? '–' : duration(node.uptimeSeconds) }),
    h('td', { text: node.role === 'worker' ? String(node.connections ?? '–') : '–' }),
    h('td', { class: `state ${state}`, title: node.error ?? '', text: state }),
  );
}

function trafficRow(p: TrafficPoint): HTMLTableRowElement {
  return h(
    'tr',
    {},
    h('td', { text: new Date(p.t).toLocaleTimeString() }),
    h('td', { text: p.messagesIn === null ? '0' : rate(p.messagesIn) }),
    h('td', { text: ms(p.sendP99Ms) }),
    h('td', { text: p.delivered === null ? '0' : rate(p.delivered) }),
    h('td', { text: ms(p.deliveryP99Ms) }),
  );
}

const SVG = 'http://www.w3.org/2000/svg';

/** Two polylines (in, delivered) over the window; the table below carries the same numbers as text. */
function drawChart(svg: SVGSVGElement, points: TrafficPoint[]): void {
  for (const old of Array.from(svg.querySelectorAll('polyline, circle, text'))) old.remove();
  if (points.length === 0) {
    const empty = document.createElementNS(SVG, 'text');
    empty.setAttribute('x', '10');
    empty.setAttribute('y', '60');
    empty.textContent = 'No traffic yet';
    svg.append(empty);
    return;
  }
  const first = points[0]?.t ?? 0;
  const span = Math.max(1, (points[points.length - 1]?.t ?? first) - first);
  const max = Math.max(1, ...points.map((p) => Math.max(p.messagesIn ?? 0, p.delivered ?? 0)));
  const line = (pick: (p: TrafficPoint) => number | null, cls: string) => {
    const el = document.createElementNS(SVG, 'polyline');
    const coords = points.map((p) => {
      const x = points.length === 1 ? 300 : ((p.t - first) / span) * 590 + 5;
      const y = 115 - ((pick(p) ?? 0) / max) * 105;
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    });
    el.setAttribute('points', coords.join(' '));
    el.setAttribute('class', cls);
    svg.append(el);
    // Markers make a lone step (a quiet cluster) visible, where a line of one point draws nothing.
    for (const xy of coords) {
      const [x = '0', y = '0'] = xy.split(',');
      const dot = document.createElementNS(SVG, 'circle');
      dot.setAttribute('cx', x);
      dot.setAttribute('cy', y);
      dot.setAttribute('r', '3');
      dot.setAttribute('class', cls);
      svg.append(dot);
    }
  };
  line((p) => p.messagesIn, 'in');
  line((p) => p.delivered, 'delivered');
}

function rate(perSecond: number): string {
  if (perSecond === 0) return '0';
  return perSecond.toFixed(perSecond >= 10 ? 0 : perSecond >= 1 ? 1 : 2);
}

function ms(value: number | null): string {
  if (value === null) return '–';
  return value >= 1000 ? `${(value / 1000).toFixed(1)} s` : `${value.toFixed(value >= 10 ? 0 : 1)} ms`;
}

export function duration(seconds: number): string {
  const d = Math.floor(seconds / 86_400);
  const hms = [Math.floor(seconds / 3600) % 24, Math.floor(seconds / 60) % 60, seconds % 60];
  const [hh, mm, ss] = hms.map((n) => String(n).padStart(2, '0'));
  return d > 0 ? `${d}d ${hh}:${mm}` : `${hh}:${mm}:${ss}`;
}

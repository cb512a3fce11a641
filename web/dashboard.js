// Tenure operator dashboard: polls GET /v1/dashboard and draws it as SVG.
// Plain JavaScript, no libraries, no build step; the page is served by
// tenured from the binary (web/ is embedded at build time).
//
// The token: from the URL fragment (/#token=...; fragments never reach the
// server or its logs) or the form, kept in this tab's sessionStorage and
// sent only as the Authorization header of /v1/dashboard.
// Fragment options: refresh=SECONDS (default 5), days=N (default 30).
//
// Every number shown comes straight from the API's answer and carries a
// `data-k` key naming where it comes from (tests/browser/ compares them).
// Text is set with textContent only: nothing from the API becomes markup.
'use strict';

(function () {
  const SVG = 'http://www.w3.org/2000/svg';
  const TOKEN_KEY = 'tenure.dashboard.token';
  const PROGRAMS = ['edu', 'oss', 'startups'];
  const STATES = ['ineligible', 'verifying', 'in_review', 'documents_requested',
    'rejected', 'awaiting_code', 'booked', 'redeemed', 'withdrawn'];

  const opts = { refresh: 5, days: 30 };
  let timer = null;
  let inFlight = false;

  const $ = (id) => document.getElementById(id);

  // -- options and token -----------------------------------------------------

  function readFragment() {
    const hash = location.hash.replace(/^#/, '');
    if (!hash) return;
    const params = new URLSearchParams(hash);
    const token = params.get('token');
    if (token) sessionStorage.setItem(TOKEN_KEY, token.trim());
    const refresh = Number(params.get('refresh'));
    if (Number.isFinite(refresh) && refresh >= 1 && refresh <= 3600)
      opts.refresh = refresh;
    const days = Number(params.get('days'));
    if (Number.isInteger(days) && days >= 1 && days <= 365) opts.days = days;
    // The token leaves the address bar (and the history) at once.
    params.delete('token');
    const rest = params.toString();
    history.replaceState(null, '',
      location.pathname + location.search + (rest ? '#' + rest : ''));
  }

  function token() {
    return sessionStorage.getItem(TOKEN_KEY) || '';
  }

  // -- small DOM helpers -----------------------------------------------------

  function h(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v;
      else e.setAttribute(k, v);
    }
    for (const c of children)
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  }

  function s(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = String(text);
    return e;
  }

  function svg(width, height) {
    return s('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img',
      preserveAspectRatio: 'xMinYMin meet' });
  }

  /// A number as shown: integers as they are, others with `digits`.
  function num(x, digits) {
    if (x === null || x === undefined) return '—';
    if (Number.isInteger(x)) return String(x);
    return x.toFixed(digits === undefined ? 1 : digits);
  }

  /// An element showing `value`, tagged with its key.
  function shown(tag, key, value, digits) {
    const e = h(tag, { 'data-k': key }, num(value, digits));
    if (value === 0) e.classList.add('zero');
    return e;
  }

  function fill(id, ...nodes) {
    const e = $(id);
    e.replaceChildren(...nodes);
    return e;
  }

  function legend(id, entries) {
    fill(id, ...entries.map(([cls, label]) =>
      h('span', {}, h('span', { class: 'sw ' + cls }), label)));
  }

  /// The chart's width in px: its container's, so that text keeps its size.
  function width(opt) {
    const e = opt && opt.in ? $(opt.in) : null;
    return Math.max(280, Math.floor(e && e.clientWidth ? e.clientWidth : 900));
  }

  /// The top of an axis of four whole ticks at or above `x`.
  function niceMax(x) {
    const want = Math.max(1, x / 4);
    const p = Math.pow(10, Math.floor(Math.log10(want)));
    for (const m of [1, 2, 5, 10])
      if (m * p >= want && Number.isInteger(m * p)) return 4 * m * p;
    return 40 * p;
  }

  function day(date) { return date.slice(5); } // MM-DD

  // -- charts ----------------------------------------------------------------

  /// Vertical stacked bars: `rows` [{label, key, total, parts: [[cls, n]]}].
  function stackedColumns(rows, opt) {
    const W = width(opt), H = W > 600 ? 220 : 170, left = 34, bottom = 28,
      top = 16;
    const max = niceMax(Math.max(1, ...rows.map((r) => r.total)));
    const g = svg(W, H);
    const plotH = H - bottom - top;
    const step = (W - left) / Math.max(1, rows.length);
    const bw = Math.max(2, step * 0.7);
    for (let i = 0; i <= 4; i++) {
      const y = top + plotH - (plotH * i) / 4;
      g.append(s('line', { x1: left, x2: W, y1: y, y2: y, class: 'axis' }));
      g.append(s('text', { x: left - 4, y: y + 3, 'text-anchor': 'end' },
        num((max * i) / 4, 1)));
    }
    // Labels every few days, counted back from the last (today).
    const labelEvery = Math.ceil(rows.length / Math.max(2, Math.floor(W / 60)));
    rows.forEach((r, i) => {
      const x = left + i * step + (step - bw) / 2;
      let y = top + plotH;
      for (const [cls, n] of r.parts) {
        if (!n) continue;
        const hgt = (plotH * n) / max;
        y -= hgt;
        const rect = s('rect', { x, y, width: bw, height: hgt, class: cls });
        rect.append(s('title', {}, `${r.label} ${cls.replace('c-', '')}: ${n}`));
        g.append(rect);
      }
      if (r.total > 0) {
        const t = s('text', { x: x + bw / 2, y: y - 3, 'text-anchor': 'middle',
          class: 'value', 'data-k': r.key }, r.total);
        g.append(t);
      }
      if ((rows.length - 1 - i) % labelEvery === 0)
        g.append(s('text', { x: i === rows.length - 1 ? x + bw : x + bw / 2,
          y: H - bottom + 14,
          'text-anchor': i === rows.length - 1 ? 'end' : 'middle' }, r.label));
    });
    if (opt && opt.empty && rows.every((r) => r.total === 0))
      g.append(s('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle',
        class: 'empty' }, opt.empty));
    return g;
  }

  /// Horizontal bars: `rows` [{label, parts: [[cls, n]], note}], scaled to
  /// `max` (the largest row's sum when not given).
  function stackedRows(rows, max, opt) {
    const W = width(opt), rowH = 22, left = Math.min(150, W / 4),
      right = Math.min(150, W / 3);
    const H = Math.max(1, rows.length) * rowH + 8;
    max = max || Math.max(1, ...rows.map((r) =>
      r.parts.reduce((a, [, n]) => a + n, 0)));
    const g = svg(W, H);
    const plotW = W - left - right;
    rows.forEach((r, i) => {
      const y = 4 + i * rowH;
      g.append(s('text', { x: left - 6, y: y + 14, 'text-anchor': 'end' },
        r.label));
      let x = left;
      for (const [cls, n] of r.parts) {
        if (!n || n < 0) continue;
        const w = (plotW * n) / max;
        const rect = s('rect', { x, y: y + 2, width: Math.max(1, w),
          height: rowH - 6, class: cls });
        rect.append(s('title', {}, `${r.label} ${cls.replace('c-', '')}: ${num(n)}`));
        g.append(rect);
        x += w;
      }
      if (r.note !== undefined)
        g.append(s('text', { x: x + 6, y: y + 14, class: 'value',
          'data-k': r.key || '' }, r.note));
    });
    if (rows.length === 0 && opt && opt.empty)
      g.append(s('text', { x: 10, y: 16, class: 'empty' }, opt.empty));
    return g;
  }

  // -- the sections ------------------------------------------------------------

  function drawApplications(d) {
    const a = d.applications;
    $('days').textContent = String(d.days);
    legend('apps-legend', PROGRAMS.map((p) => ['c-' + p, p]));
    const rows = a.by_day.map((x) => ({
      label: day(x.date),
      key: 'apps.day.' + x.date,
      total: PROGRAMS.reduce((t, p) => t + x[p], 0),
      parts: PROGRAMS.map((p) => ['c-' + p, x[p]]),
    }));
    fill('apps-chart', stackedColumns(rows,
      { in: 'apps-chart', empty: 'no applications in these days' }));
    document.querySelector('[data-k="apps.total"]').textContent = num(a.total);
  }

  function drawStates(d) {
    const progs = d.applications.programs;
    const rows = STATES.map((st) => ({
      label: st.replace(/_/g, ' '),
      parts: PROGRAMS.map((p) => ['c-' + p, progs[p].by_state[st]]),
      note: PROGRAMS.reduce((t, p) => t + progs[p].by_state[st], 0),
      key: 'apps.state.' + st,
    }));
    fill('states-chart', stackedRows(rows, 0, { in: 'states-chart' }));
    const table = fill('states-table',
      h('tr', {}, h('th', {}, 'program'),
        ...STATES.map((st) => h('th', {}, st.replace(/_/g, ' '))),
        h('th', {}, 'total')));
    for (const p of PROGRAMS) {
      table.append(h('tr', {}, h('td', {}, h('span', { class: 'sw c-' + p }), p),
        ...STATES.map((st) =>
          shown('td', `apps.${p}.${st}`, progs[p].by_state[st])),
        shown('td', `apps.${p}.total`, progs[p].total)));
    }
  }

  function drawCoupons(d) {
    const body = [];
    const held = new Set(d.coupons.map((c) => c.program));
    for (const c of d.coupons) {
      const k = 'coupons.' + c.program;
      const chart = stackedRows([{
        label: c.program,
        parts: [['c-available', c.available], ['c-reserved', c.reserved],
          ['c-redeemed', c.redeemed]],
      }], 0, { in: 'coupons-body' });
      const low = c.runway_days !== null && c.runway_days < 60;
      body.push(h('div', { class: 'pool' },
        h('div', { class: 'chart' }, chart),
        h('div', { class: 'numbers' },
          h('span', {}, h('span', { class: 'sw c-available' }), 'available ',
            shown('b', k + '.available', c.available)),
          h('span', {}, h('span', { class: 'sw c-reserved' }), 'reserved ',
            shown('b', k + '.reserved', c.reserved)),
          h('span', {}, h('span', { class: 'sw c-redeemed' }), 'redeemed ',
            shown('b', k + '.redeemed', c.redeemed)),
          h('span', {}, 'booked in 30 days ',
            shown('b', k + '.bookings_30d', c.bookings_30d)),
          h('span', { class: 'runway' + (low ? ' low' : '') }, 'runway ',
            c.runway_days === null
              ? h('b', { 'data-k': k + '.runway_days' }, 'no bookings')
              : shown('b', k + '.runway_days', c.runway_days, 1),
            c.runway_days === null ? '' : ' days'))));
    }
    for (const p of PROGRAMS)
      if (!held.has(p))
        body.push(h('p', { class: 'empty-text' },
          `${p}: pool not answered (its member is unavailable)`));
    fill('coupons-body', ...body);
  }

  function drawTimers(d) {
    const t = d.timers;
    const kinds = Object.keys(t.by_kind).sort();
    const cls = (k) => 'c-k' + (kinds.indexOf(k) % 10);
    legend('timers-legend', kinds.map((k) =>
      [cls(k), h('span', {}, k + ' ', shown('b', 'timers.kind.' + k, t.by_kind[k]))]));
    const rows = t.by_day.map((x) => ({
      label: day(x.date),
      key: 'timers.day.' + x.date,
      total: x.total,
      parts: kinds.map((k) => [cls(k), x.kinds[k] || 0]),
    }));
    fill('timers-chart', stackedColumns(rows,
      { in: 'timers-chart', empty: 'no timers due' }));
    document.querySelector('[data-k="timers.total"]').textContent = num(t.total);
    document.querySelector('[data-k="timers.overdue"]').textContent = num(t.overdue);
  }

  function drawCases(d) {
    const c = d.compliance_cases;
    document.querySelector('[data-k="cases.open"]').textContent = num(c.open);
    document.querySelector('[data-k="cases.overdue"]').textContent = num(c.overdue);
    const max = Math.max(30, ...c.items.map((x) => Math.abs(x.days_left || 0)));
    const rows = c.items.map((x) => ({
      label: x.id.replace(/^case_/, '').slice(0, 8) + '…',
      parts: [[x.days_left !== null && x.days_left < 0 ? 'c-late' : 'c-open',
        Math.abs(x.days_left || 0)]],
      note: x.deadline === null ? 'no deadline'
        : `${num(x.days_left, 1)} d (${x.deadline.slice(0, 10)})`,
      key: 'cases.item.' + x.id + '.days_left',
    }));
    fill('cases-chart',
      stackedRows(rows, max,
        { in: 'cases-chart', empty: 'no open compliance cases' }));
  }

  function drawLicenses(d) {
    const e = d.emergency_licenses;
    document.querySelector('[data-k="em.count"]').textContent = num(e.count);
    document.querySelector('[data-k="em.users"]').textContent = num(e.users);
    const rows = e.by_day.map((x) => ({
      label: day(x.date), key: 'em.day.' + x.date, total: x.count,
      parts: [['c-k2', x.count]],
    }));
    fill('em-chart', stackedColumns(rows,
      { in: 'em-chart', empty: 'no emergency licenses in 7 days' }));
    const table = fill('em-table', h('tr', {}, h('th', {}, 'license'),
      h('th', {}, 'issued'), h('th', {}, 'expires'), h('th', {}, 'days'),
      h('th', {}, 'users')));
    for (const x of e.items)
      table.append(h('tr', {}, h('td', {}, x.id),
        h('td', {}, x.issued_at.slice(0, 16).replace('T', ' ')),
        h('td', {}, x.expired ? 'expired' : x.expires_at.slice(0, 10)),
        shown('td', `em.item.${x.id}.days`, x.days),
        shown('td', `em.item.${x.id}.users`, x.users)));
  }

  function drawOutreach(d) {
    const progs = (d.outreach && d.outreach.programs) || [];
    legend('outreach-legend', progs.length
      ? [['c-open', 'open rate'], ['c-click', 'click rate'],
        ['c-bounce', 'bounce rate']]
      : []);
    if (progs.length === 0) {
      const why = d.outreach && d.outreach.error ? ` (${d.outreach.error})` : '';
      fill('outreach-chart', h('p', { class: 'empty-text',
        'data-k': 'outreach.none' }, 'no outreach programs' + why));
      return;
    }
    const pct = (x) => (typeof x === 'number' ? x * 100 : 0);
    const rows = [];
    for (const p of progs) {
      const r = p.rates || {};
      for (const [name, cls] of [['open_rate', 'c-open'],
        ['click_rate', 'c-click'], ['bounce_rate', 'c-bounce']])
        rows.push({ label: `${p.name || p.id} ${name.replace('_rate', '')}`,
          parts: [[cls, pct(r[name])]],
          note: `${num(pct(r[name]), 1)} %`,
          key: `outreach.${p.id}.${name}` });
    }
    const chart = stackedRows(rows, 100, { in: 'outreach-chart' });
    const table = h('table', {}, h('tr', {}, h('th', {}, 'program'),
      h('th', {}, 'kind'), h('th', {}, 'stage'), h('th', {}, 'sent'),
      h('th', {}, 'opened'), h('th', {}, 'clicked'), h('th', {}, 'bounced'),
      h('th', {}, 'responses')));
    for (const p of progs) {
      const r = p.rates || {};
      table.append(h('tr', {}, h('td', {}, p.name || p.id),
        h('td', {}, p.kind || ''), h('td', {}, p.stage || ''),
        ...['sent', 'opened', 'clicked', 'bounced', 'responses'].map((n) =>
          shown('td', `outreach.${p.id}.${n}`, r[n] === undefined ? null : r[n]))));
    }
    fill('outreach-chart', chart, table);
  }

  function drawFooter(d) {
    const parts = [];
    if (d.unavailable && d.unavailable.length)
      parts.push(h('p', { class: 'error', 'data-k': 'unavailable' },
        'Members not answering (their parts are missing): '
        + d.unavailable.join(', ')));
    const cut = (d.limits && d.limits.truncated) || [];
    if (cut.length)
      parts.push(h('p', {}, 'Cut at the node\'s limits (counts are lower '
        + 'bounds): ' + cut.join(', ')));
    fill('footer', ...parts);
  }

  function draw(d) {
    $('now').textContent = d.now;
    drawApplications(d);
    drawStates(d);
    drawCoupons(d);
    drawTimers(d);
    drawCases(d);
    drawLicenses(d);
    drawOutreach(d);
    drawFooter(d);
  }

  // -- polling -----------------------------------------------------------------

  function setState(text, cls) {
    const e = $('state');
    e.textContent = text;
    e.className = 'pill ' + (cls || '');
  }

  function showError(message) {
    const e = $('error');
    e.textContent = message;
    e.hidden = !message;
    $('board').classList.toggle('stale', !!message);
    if (message) setState('stale', 'stale');
  }

  function askToken(message) {
    $('login').hidden = false;
    $('board').hidden = true;
    showError(message || '');
    if (!message) setState('no token', '');
    $('token').focus();
  }

  async function refresh() {
    if (inFlight) return;
    const t = token();
    if (!t) {
      if ($('login').hidden) askToken();
      return;
    }
    inFlight = true;
    try {
      let res;
      try {
        res = await fetch('/v1/dashboard?days=' + opts.days, {
          headers: { Authorization: 'Bearer ' + t, Accept: 'application/json' },
          cache: 'no-store',
          credentials: 'omit',
        });
      } catch (err) {
        showError('Cannot reach the node (it may be down or restarting); '
          + 'showing the last data, retrying every ' + opts.refresh + ' s.');
        return;
      }
      let body = null;
      try { body = await res.json(); } catch (err) { body = null; }
      const why = body && body.error ? `: ${body.error.message}` : '';
      if (res.status === 401) {
        sessionStorage.removeItem(TOKEN_KEY);
        askToken('The node refused the token (401 unauthorized)' + why
          + '. Enter a token with the read scope.');
        return;
      }
      if (res.status === 403) {
        askToken('The token lacks the read scope (403 forbidden)' + why + '.');
        return;
      }
      if (res.status !== 200 || !body) {
        showError(`The node answered ${res.status}${why}; showing the last `
          + 'data.');
        return;
      }
      $('login').hidden = true;
      $('board').hidden = false;
      draw(body);
      showError('');
      setState('live', 'live');
      $('refreshed').textContent = new Date().toLocaleTimeString();
      document.body.setAttribute('data-refreshed', String(Date.now()));
    } finally {
      inFlight = false;
    }
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      await refresh();
      schedule();
    }, opts.refresh * 1000);
  }

  function start() {
    readFragment();
    $('interval').textContent = String(opts.refresh);
    $('login').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const v = $('token').value.trim();
      $('token').value = '';
      if (!v) return;
      sessionStorage.setItem(TOKEN_KEY, v);
      refresh();
    });
    $('sign-out').addEventListener('click', () => {
      sessionStorage.removeItem(TOKEN_KEY);
      askToken();
    });
    $('refresh-now').addEventListener('click', () => refresh());
    window.addEventListener('hashchange', () => {
      readFragment();
      $('interval').textContent = String(opts.refresh);
      refresh();
    });
    refresh().then(schedule);
  }

  if (document.readyState === 'loading')
    document.addEventListener('DOMContentLoaded', start);
  else start();
})();

// Small DOM helpers shared by the console and the storefront. Text always goes in as text nodes
// (never parsed as HTML), so data from the API cannot inject markup.

/** h('tag.class#id', {attrs, on: {event: fn}}, ...children) builds an element. */
export function h(spec, attrs, ...children) {
  const [, tag = 'div', rest = ''] = /^([a-z0-9]*)(.*)$/i.exec(spec);
  const el = document.createElement(tag || 'div');
  for (const part of rest.match(/[.#][^.#]+/g) || []) {
    if (part[0] === '.') el.classList.add(part.slice(1));
    else el.id = part.slice(1);
  }
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces an element's children. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A labelled input: returns the wrapper; the input is wrapper.input. */
export function field(label, attrs = {}, hint = '') {
  const id = attrs.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  const input = attrs.type === 'textarea'
    ? h('textarea', { ...attrs, type: null, id })
    : attrs.type === 'select'
      ? h('select', { ...attrs, type: null, options: null, id }, (attrs.options || []).map(([v, t]) => h('option', { value: v }, t)))
      : h('input', { ...attrs, id });
  const hintId = hint ? `${id}-hint` : null;
  if (hintId) input.setAttribute('aria-describedby', hintId);
  const wrap = h('div.field', h('label', { for: id }, label), input, hint ? h('small.hint', { id: hintId }, hint) : null);
  wrap.input = input;
  return wrap;
}

/** A status line announced to screen readers; kind is 'error', 'ok' or 'info'. */
export function notice(text, kind = 'info') {
  return h(`p.notice.${kind}`, { role: kind === 'error' ? 'alert' : 'status' }, text);
}

/** Formats an RFC 3339 time for people, in their locale. */
export function when(t) {
  if (!t) return '—';
  const d = new Date(t);
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** Formats a time of day with seconds. */
export function clock(t) {
  return new Date(t).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** Formats Money ({amount: "12.50", currency: "EUR"}); the amount string is never parsed into a float. */
export function money(m) {
  return m ? `${m.amount} ${m.currency}` : '—';
}

/** Runs fn while the button shows it is busy; errors go to onError. */
export async function busy(button, fn) {
  const was = button.disabled;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await fn();
  } finally {
    button.disabled = was;
    button.removeAttribute('aria-busy');
  }
}

/** A random idempotency key. */
export function idempotencyKey() {
  return crypto.randomUUID();
}

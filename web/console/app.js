// The admin console: staff sign in, find a customer, see whether login on behalf is possible (and why
// not), open the storefront on their behalf, manage sessions and read the audit trail. It uses only
// the public GraphQL API at /graphql, with the staff member's session token kept in sessionStorage
// (this tab only).
import { gql, ApiError } from './shared/gql.js';
import { h, mount, field, notice, when, clock, busy } from './shared/ui.js';

const TOKEN_KEY = 'behalf.console.token';
const main = document.getElementById('main');
const nav = document.getElementById('nav');
let me = null;

const token = () => sessionStorage.getItem(TOKEN_KEY) || '';
const api = (q, v) => gql(q, v, token());

/** Plain-language explanation of User.loginOnBehalfRefusal. */
export const refusals = {
  NOT_PERMITTED: 'Your account may not log in on behalf of customers.',
  OTHER_ORGANIZATION: 'This customer belongs to another organization: you may act only for members of your own.',
  SELF: 'This is your own account.',
  TARGET_IS_STAFF: 'This is a staff account. Staff accounts are never opened on behalf of, so nobody can gain their permissions this way.',
  TARGET_LOCKED: 'The account is locked. Unlock it before acting for the customer.',
  NO_CONSENT: 'The customer has switched off login on behalf in their account. Only they can switch it back on; help them by phone or e-mail meanwhile.',
  API_KEY: 'Login on behalf is not possible with an API key.',
  NESTED: 'You are acting for a customer already: end that session first.',
};

function fail(err, where = main) {
  if (err instanceof ApiError && err.code === 'UNAUTHENTICATED' && token()) {
    sessionStorage.removeItem(TOKEN_KEY);
    me = null;
    render();
    return;
  }
  const text = err instanceof ApiError
    ? `${err.message} (${err.code}${err.requestId ? `, request ${err.requestId}` : ''})`
    : String(err.message || err);
  where.append(notice(text, 'error'));
}

function route() {
  const [path, query = ''] = location.hash.replace(/^#/, '').split('?');
  return { parts: path.split('/').filter(Boolean), params: new URLSearchParams(query) };
}

function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

function renderNav(current) {
  if (!me) {
    mount(nav);
    return;
  }
  const link = (href, text, key) => h('a', { href, 'aria-current': current === key ? 'page' : null }, text);
  mount(nav,
    link('#/', 'Customers', 'search'),
    link('#/audit', 'Audit trail', 'audit'),
    h('span.who', `Signed in as ${me.login}`),
    h('button.link', { type: 'button', on: { click: signOut } }, 'Sign out'));
}

async function signOut() {
  try {
    await api('mutation { logout }');
  } catch { /* the session may be gone already */ }
  sessionStorage.removeItem(TOKEN_KEY);
  me = null;
  go('#/');
}

function signIn() {
  renderNav();
  document.title = 'Sign in — behalf console';
  const login = field('Login', { name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: false });
  const password = field('Password', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const status = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit' }, 'Sign in');
  const form = h('form.card.narrow', {
    on: {
      submit: (e) => {
        e.preventDefault();
        status.replaceChildren();
        busy(submit, async () => {
          try {
            const d = await gql(`mutation($l:String!,$p:String!){ login(login:$l, password:$p){ token user { id login permissions } } }`,
              { l: login.input.value.trim(), p: password.input.value });
            const perms = d.login.user.permissions.filter((p) => p !== 'organization:loginOnBehalf');
            if (!perms.length) {
              await gql('mutation { logout }', {}, d.login.token).catch(() => {});
              status.append(notice('This console is for staff. Customers sign in at the storefront.', 'error'));
              return;
            }
            sessionStorage.setItem(TOKEN_KEY, d.login.token);
            me = d.login.user;
            render();
          } catch (err) {
            password.input.value = '';
            fail(err, status);
            password.input.focus();
          }
        });
      },
    },
  }, h('h1', 'Sign in'), h('p.muted', 'Staff only: support engineers and administrators.'), login, password, status, submit);
  mount(main, form);
  login.input.focus();
}

// ---- customer search -------------------------------------------------------------------------------

function pager(conn, stack, load) {
  const prev = h('button.secondary', { type: 'button', disabled: stack.length === 0, on: { click: () => load(stack.pop(), true) } }, 'Previous');
  const next = h('button.secondary', {
    type: 'button', disabled: !conn.pageInfo.hasNextPage,
    on: { click: () => load(conn.pageInfo.endCursor, false) },
  }, 'Next');
  return h('div.pager', prev, next, h('span.muted', `${conn.totalCount} in all`));
}

function pagedList(title, fetchPage, renderRows, headers) {
  const box = h('section.card', { 'aria-label': title });
  const stack = [];
  let current = null;
  async function load(after, back) {
    try {
      const conn = await fetchPage(after);
      if (!back && after !== current && after !== undefined) stack.push(current);
      current = after;
      mount(box, h('h2', title),
        conn.edges.length
          ? h('div.table-wrap', h('table', h('thead', h('tr', headers.map((x) => h('th', { scope: 'col' }, x)))), h('tbody', conn.edges.map((e) => renderRows(e.node)))))
          : h('p.muted', 'Nothing found.'),
        pager(conn, stack, load));
    } catch (err) {
      mount(box, h('h2', title));
      fail(err, box);
    }
  }
  load(null, true);
  return box;
}

function orgOf(contact) {
  return contact && contact.organization ? contact.organization.name : '—';
}

function searchPage(params) {
  document.title = 'Customers — behalf console';
  const q = params.get('q') || '';
  const search = field('Search contacts and users', { type: 'search', name: 'q', value: q, autocomplete: 'off', placeholder: 'Name, e-mail or login, e.g. schm' },
    'Matches the beginnings of words, case-insensitively.');
  const form = h('form.card', {
    role: 'search',
    on: { submit: (e) => { e.preventDefault(); go(`#/?q=${encodeURIComponent(search.input.value.trim())}`); } },
  }, h('div.row', search, h('div.field', h('button', { type: 'submit' }, 'Search'))));
  const parts = [h('h1', 'Find a customer'), form];
  if (q) {
    parts.push(pagedList('Contacts',
      async (after) => (await api(`query($s:String,$a:String){ contacts(search:$s, first:10, after:$a){ totalCount pageInfo{hasNextPage endCursor}
        edges{ node{ id fullName email organization{ name } accounts{ id login } } } } }`, { s: q, a: after })).contacts,
      (c) => h('tr',
        h('td', h('a', { href: `#/contact/${c.id}` }, c.fullName)),
        h('td', c.email),
        h('td', orgOf(c)),
        h('td', c.accounts.length ? c.accounts.map((u) => u.login).join(', ') : h('span.muted', 'no account'))),
      ['Name', 'E-mail', 'Organization', 'Accounts']));
    parts.push(pagedList('User accounts',
      async (after) => (await api(`query($s:String,$a:String){ users(search:$s, first:10, after:$a){ totalCount pageInfo{hasNextPage endCursor}
        edges{ node{ id login email roles locked contact{ id fullName organization{ name } } } } } }`, { s: q, a: after })).users,
      (u) => h('tr',
        h('td', h('a', { href: `#/user/${u.id}` }, u.login)),
        h('td', u.contact ? u.contact.fullName : '—'),
        h('td', orgOf(u.contact)),
        h('td', u.roles.join(', '), u.locked ? [' ', h('span.badge.bad', 'locked')] : null)),
      ['Login', 'Name', 'Organization', 'Roles']));
  }
  mount(main, parts);
  if (!q) search.input.focus();
}

// ---- customer page ---------------------------------------------------------------------------------

const USER_FIELDS = 'id login email roles locked allowLoginOnBehalf canLoginOnBehalf loginOnBehalfRefusal';

async function contactPage(id) {
  mount(main, h('p.muted', 'Loading…'));
  try {
    const { contact } = await api(`query($id:ID!){ contact(id:$id){ id fullName email phone organization{ name } accounts{ ${USER_FIELDS} } } }`, { id });
    if (!contact) {
      mount(main, h('h1', 'Not found'), notice('No such contact.', 'error'));
      return;
    }
    document.title = `${contact.fullName} — behalf console`;
    mount(main,
      h('p', h('a', { href: '#/', on: { click: (e) => { e.preventDefault(); history.back(); } } }, '← Back')),
      h('h1', contact.fullName),
      h('section.card', { 'aria-label': 'Contact' }, h('dl.facts',
        h('dt', 'Organization'), h('dd', orgOf(contact)),
        h('dt', 'E-mail'), h('dd', contact.email),
        h('dt', 'Phone'), h('dd', contact.phone || '—'))),
      h('h2', 'Accounts'),
      contact.accounts.length ? contact.accounts.map(accountCard) : h('p.muted', 'This contact has no account to sign in with.'));
  } catch (err) {
    mount(main);
    fail(err);
  }
}

async function userPage(id) {
  mount(main, h('p.muted', 'Loading…'));
  try {
    const { user } = await api(`query($id:ID!){ user(id:$id){ ${USER_FIELDS} contact{ id fullName organization{ name } } } }`, { id });
    if (!user) {
      mount(main, h('h1', 'Not found'), notice('No such user.', 'error'));
      return;
    }
    document.title = `${user.login} — behalf console`;
    mount(main,
      h('p', h('a', { href: '#/', on: { click: (e) => { e.preventDefault(); history.back(); } } }, '← Back')),
      h('h1', user.contact ? user.contact.fullName : user.login),
      user.contact ? h('p', 'Contact: ', h('a', { href: `#/contact/${user.contact.id}` }, user.contact.fullName), ` · ${orgOf(user.contact)}`) : null,
      accountCard(user));
  } catch (err) {
    mount(main);
    fail(err);
  }
}

function accountCard(u) {
  const box = h('section.card.account', { 'aria-label': `Account ${u.login}` });
  const onBehalf = h('div');
  const sessions = h('div');
  if (u.canLoginOnBehalf) {
    const open = h('button', { type: 'button', on: { click: () => mount(onBehalf, onBehalfForm(u, onBehalf)) } }, 'Login on behalf…');
    mount(onBehalf, h('div.actions', open));
  } else {
    mount(onBehalf, notice(`Login on behalf is not possible: ${refusals[u.loginOnBehalfRefusal] || 'not allowed.'}`, 'info'));
  }
  mount(box,
    h('h3', u.login, ' ', u.locked ? h('span.badge.bad', 'locked') : h('span.badge.ok', 'active')),
    h('dl.facts',
      h('dt', 'E-mail'), h('dd', u.email),
      h('dt', 'Roles'), h('dd', u.roles.join(', ') || '—'),
      h('dt', 'Login on behalf'), h('dd', u.allowLoginOnBehalf ? 'allowed by the customer' : 'refused by the customer')),
    onBehalf,
    h('div.actions',
      h('button.secondary', { type: 'button', on: { click: () => loadSessions(u, sessions) } }, 'Sessions'),
      h('a.button.secondary', { href: `#/audit?subject=${encodeURIComponent(u.login)}` }, 'Audit trail')),
    sessions);
  return box;
}

function onBehalfForm(u, container) {
  const reason = field('Reason (kept on record and shown to the customer)', { type: 'textarea', name: 'reason', required: true, maxlength: 500 },
    'For example the ticket number and what the customer asked for.');
  const status = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit' }, 'Open the storefront');
  const form = h('form', {
    'aria-label': `Login on behalf of ${u.login}`,
    on: {
      submit: (e) => {
        e.preventDefault();
        const why = reason.input.value.trim();
        if (!why) {
          mount(status, notice('Please give a reason.', 'error'));
          reason.input.focus();
          return;
        }
        busy(submit, async () => {
          try {
            const { loginOnBehalf: t } = await api(`mutation($u:ID!,$r:String){ loginOnBehalf(userId:$u, reason:$r){ url expiresAt user{ login } } }`, { u: u.id, r: why });
            window.open(t.url, '_blank', 'noopener,noreferrer');
            mount(container,
              notice(`The storefront opened in a new tab for ${t.user.login}. Confirm there with your own login and password before ${clock(t.expiresAt)}; the link works once.`, 'ok'),
              h('div.actions',
                h('a.button.secondary', { href: t.url, target: '_blank', rel: 'noopener noreferrer' }, 'Open the storefront again'),
                h('button.secondary', { type: 'button', on: { click: () => mount(container, onBehalfForm(u, container)) } }, 'New link')));
          } catch (err) {
            mount(status);
            fail(err, status);
          }
        });
      },
    },
  }, reason, status, h('div.actions', submit,
    h('button.secondary', { type: 'button', on: { click: () => mount(container, h('div.actions', h('button', { type: 'button', on: { click: () => mount(container, onBehalfForm(u, container)) } }, 'Login on behalf…'))) } }, 'Cancel')));
  setTimeout(() => reason.input.focus());
  return form;
}

async function loadSessions(u, box) {
  mount(box, h('p.muted', 'Loading sessions…'));
  try {
    const { sessions } = await api(`query($u:ID!){ sessions(userId:$u){ id onBehalf operator{ login } operatorName createdAt expiresAt lastSeenAt ip userAgent reason } }`, { u: u.id });
    mount(box, h('h3', `Live sessions of ${u.login}`),
      sessions.length ? h('div.table-wrap', h('table',
        h('thead', h('tr', ['Started', 'Kind', 'Operator', 'Reason', 'Last seen', 'Ends', ''].map((x) => h('th', { scope: 'col' }, x)))),
        h('tbody', sessions.map((s) => {
          const status = h('span');
          return h('tr',
            h('td', when(s.createdAt)),
            h('td', s.onBehalf ? h('span.badge.warn', 'on behalf') : 'own'),
            h('td', s.operator ? s.operator.login : (s.operatorName || '—')),
            h('td', s.reason || '—'),
            h('td', when(s.lastSeenAt)),
            h('td', when(s.expiresAt)),
            h('td', h('button.danger', {
              type: 'button', 'aria-label': `Revoke session started ${when(s.createdAt)}`,
              on: {
                click: (e) => busy(e.currentTarget, async () => {
                  try {
                    await api('mutation($id:ID!){ revokeSession(id:$id) }', { id: s.id });
                    loadSessions(u, box);
                  } catch (err) {
                    fail(err, status);
                  }
                }),
              },
            }, 'Revoke'), status));
        })))) : h('p.muted', 'No live session.'));
  } catch (err) {
    mount(box);
    fail(err, box);
  }
}

// ---- audit trail -----------------------------------------------------------------------------------

const ACTIONS = ['auth.login', 'auth.login.failed', 'auth.logout', 'onbehalf.requested', 'onbehalf.started', 'onbehalf.denied', 'onbehalf.ended',
  'cart.add', 'cart.update', 'cart.remove', 'cart.addFromFile', 'order.place', 'order.pay', 'session.revoke', 'session.revokeAll', 'user.consent',
  'user.create', 'user.update', 'auth.password.change', 'apikey.generate', 'apikey.revoke'];

async function userIdByLogin(login) {
  const { users } = await api('query($s:String){ users(search:$s, first:50){ edges{ node{ id login } } } }', { s: login });
  const hit = users.edges.find((e) => e.node.login.toLowerCase() === login.toLowerCase());
  if (!hit) throw new Error(`No user with the login “${login}”.`);
  return hit.node.id;
}

function toISO(local) {
  return local ? new Date(local).toISOString() : null;
}

function auditPage(params) {
  document.title = 'Audit trail — behalf console';
  const actor = field('Actor (login of who acted)', { name: 'actor', value: params.get('actor') || '', autocomplete: 'off' });
  const subject = field('Subject (login of whose account)', { name: 'subject', value: params.get('subject') || '', autocomplete: 'off' });
  const action = field('Action', { name: 'action', value: params.get('action') || '', list: 'actions', autocomplete: 'off', placeholder: 'any' });
  const outcome = field('Outcome', { type: 'select', name: 'outcome', options: [['', 'any'], ['SUCCESS', 'success'], ['FAILURE', 'failure']] });
  outcome.input.value = params.get('outcome') || '';
  const onBehalf = field('Login on behalf', { type: 'select', name: 'onBehalf', options: [['', 'any'], ['true', 'only on behalf'], ['false', 'only ordinary']] });
  onBehalf.input.value = params.get('onBehalf') || '';
  const from = field('From', { type: 'datetime-local', name: 'from', value: params.get('from') || '' });
  const to = field('To (before)', { type: 'datetime-local', name: 'to', value: params.get('to') || '' });
  const form = h('form.card', {
    'aria-label': 'Audit filters',
    on: {
      submit: (e) => {
        e.preventDefault();
        const p = new URLSearchParams();
        for (const [k, f] of Object.entries({ actor, subject, action, outcome, onBehalf, from, to })) {
          if (f.input.value.trim()) p.set(k, f.input.value.trim());
        }
        go(`#/audit?${p}`);
      },
    },
  }, h('datalist#actions', ACTIONS.map((a) => h('option', { value: a }))),
  h('div.row', actor, subject, action), h('div.row', outcome, onBehalf, from, to),
  h('div.actions', h('button', { type: 'submit' }, 'Apply filters'), h('a.button.secondary', { href: '#/audit' }, 'Clear')));
  const results = h('div');
  mount(main, h('h1', 'Audit trail'), form, results);
  (async () => {
    try {
      const f = {};
      if (params.get('actor')) f.actorId = await userIdByLogin(params.get('actor'));
      if (params.get('subject')) f.subjectId = await userIdByLogin(params.get('subject'));
      if (params.get('action')) f.action = params.get('action');
      if (params.get('outcome')) f.outcome = params.get('outcome');
      if (params.get('onBehalf')) f.onBehalf = params.get('onBehalf') === 'true';
      if (params.get('from')) f.from = toISO(params.get('from'));
      if (params.get('to')) f.to = toISO(params.get('to'));
      mount(results, pagedList('Events, newest first',
        async (after) => (await api(`query($f:AuditEventFilter,$a:String){ auditEvents(filter:$f, first:25, after:$a){ totalCount pageInfo{hasNextPage endCursor}
          edges{ node{ id at action outcome errorCode actorLogin subjectLogin onBehalf reason operation requestId } } } }`, { f, a: after })).auditEvents,
        (e) => h('tr', { dataset: { action: e.action } },
          h('td', when(e.at)),
          h('td', h('code', e.action)),
          h('td', e.outcome === 'SUCCESS' ? h('span.badge.ok', 'success') : h('span.badge.bad', `failure${e.errorCode ? `: ${e.errorCode}` : ''}`)),
          h('td', e.actorLogin || '—'),
          h('td', e.subjectLogin || '—'),
          h('td', e.onBehalf ? h('span.badge.warn', 'on behalf') : ''),
          h('td', e.reason || '')),
        ['Time', 'Action', 'Outcome', 'Actor', 'Subject', 'On behalf', 'Reason']));
    } catch (err) {
      fail(err, results);
    }
  })();
}

// ---- routing ---------------------------------------------------------------------------------------

async function render() {
  if (!token()) {
    signIn();
    return;
  }
  if (!me) {
    try {
      me = (await api('{ me { id login permissions } }')).me;
    } catch (err) {
      fail(err);
      return;
    }
    if (!me) {
      sessionStorage.removeItem(TOKEN_KEY);
      signIn();
      return;
    }
  }
  const { parts, params } = route();
  renderNav(parts[0] === 'audit' ? 'audit' : 'search');
  main.focus({ preventScroll: true });
  if (parts[0] === 'contact' && parts[1]) contactPage(parts[1]);
  else if (parts[0] === 'user' && parts[1]) userPage(parts[1]);
  else if (parts[0] === 'audit') auditPage(params);
  else searchPage(params);
}

window.addEventListener('hashchange', render);
render();

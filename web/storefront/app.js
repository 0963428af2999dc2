// The reference storefront: a B2B shop on the public GraphQL API only. A customer signs in with their
// own login; a staff member arrives through the login-on-behalf link
// (/storefront/account/impersonate/{userId}#ticket=…), confirms with their own credentials and then
// works in a scoped session under a banner that names both people. The two tokens live apart in
// sessionStorage (this tab only); the scoped one wins while it exists.
import { gql, gqlUpload, ApiError } from './shared/gql.js';
import { h, mount, field, notice, when, clock, money, busy, idempotencyKey } from './shared/ui.js';

const CUSTOMER_KEY = 'behalf.storefront.customer';
const ONBEHALF_KEY = 'behalf.storefront.onbehalf';
const main = document.getElementById('main');
const nav = document.getElementById('nav');
const banner = document.getElementById('banner');
const IMPERSONATE = /^\/storefront\/account\/impersonate\/([^/]+)\/?$/;

let viewer = null; // { me, session } of the active token
let flash = null; // a notice shown once on the next page

const onBehalfToken = () => sessionStorage.getItem(ONBEHALF_KEY) || '';
const token = () => onBehalfToken() || sessionStorage.getItem(CUSTOMER_KEY) || '';
const api = (q, v) => gql(q, v, token());

function dropToken() {
  if (onBehalfToken()) sessionStorage.removeItem(ONBEHALF_KEY);
  else sessionStorage.removeItem(CUSTOMER_KEY);
  viewer = null;
}

function fail(err, where = main) {
  if (err instanceof ApiError && err.code === 'UNAUTHENTICATED' && token()) {
    dropToken();
    flash = notice('Your session has ended. Please sign in again.', 'info');
    go('#/');
    return;
  }
  const text = err instanceof ApiError
    ? `${err.message}${err.code ? ` (${err.code})` : ''}`
    : String(err.message || err);
  where.append(notice(text, 'error'));
}

function route() {
  const [path, query = ''] = location.hash.replace(/^#/, '').split('?');
  return { parts: path.split('/').filter(Boolean), params: new URLSearchParams(query) };
}

function go(hash) {
  if (location.pathname !== '/storefront/' || location.hash !== hash) {
    history.pushState(null, '', `/storefront/${hash}`);
  }
  render();
}

// ---- confirm page (login on behalf) ----------------------------------------------------------------

let pendingTicket = null; // kept in memory only, after being removed from the address bar

function confirmPage() {
  const frag = new URLSearchParams(location.hash.replace(/^#/, ''));
  if (frag.get('ticket')) {
    pendingTicket = frag.get('ticket');
    // The ticket leaves the address bar (and the history) at once.
    history.replaceState(null, '', location.pathname);
  }
  mount(banner);
  mount(nav);
  document.title = 'Log in on behalf — behalf shop';
  if (!pendingTicket) {
    mount(main, h('section.card.narrow', h('h1', 'Log in on behalf'),
      notice('This page opens from the “Login on behalf” button of the admin console. Go back there and click it again.', 'error')));
    return;
  }
  const ticket = pendingTicket;
  mount(main, h('p.muted', 'Checking the link…'));
  gql('query($t:String!){ onBehalfTicketPreview(ticket:$t){ customerName organization operatorLogin reason expiresAt } }', { t: ticket })
    .then(({ onBehalfTicketPreview: p }) => confirmForm(ticket, p))
    .catch((err) => { mount(main); fail(err); });
}

function ticketGone(p) {
  const expired = p && Date.now() >= Date.parse(p.expiresAt);
  return h('div',
    notice(expired
      ? `This login-on-behalf link expired at ${clock(p.expiresAt)}. Links work for a few minutes only.`
      : p
        ? 'The login or password was wrong, or this link was used already. For safety the link is now used up.'
        : 'This login-on-behalf link has expired or was used already. Each link works once, for a few minutes.', 'error'),
    h('p', 'Go back to the admin console and click “Login on behalf” again to get a new link.'));
}

function confirmForm(ticket, p) {
  if (!p) {
    mount(main, h('section.card.narrow', h('h1', 'Log in on behalf'), ticketGone(null)));
    return;
  }
  const login = field('Your own login', { name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: false });
  const password = field('Your own password', { name: 'password', type: 'password', autocomplete: 'current-password', required: true },
    'Not the customer’s: you confirm who you are.');
  const status = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit' }, `Continue as ${p.customerName}`);
  const form = h('form', {
    on: {
      submit: (e) => {
        e.preventDefault();
        status.replaceChildren();
        busy(submit, async () => {
          try {
            const d = await gql(`mutation($t:String!,$l:String!,$p:String!){ confirmOnBehalf(ticket:$t, login:$l, password:$p){ token } }`,
              { t: ticket, l: login.input.value.trim(), p: password.input.value });
            pendingTicket = null;
            sessionStorage.setItem(ONBEHALF_KEY, d.confirmOnBehalf.token);
            viewer = null;
            history.replaceState(null, '', '/storefront/#/');
            render();
          } catch (err) {
            password.input.value = '';
            if (err instanceof ApiError && err.code === 'UNAUTHENTICATED') {
              pendingTicket = null;
              mount(main, h('section.card.narrow', h('h1', 'Log in on behalf'), ticketGone(p)));
              main.focus();
            } else {
              fail(err, status);
            }
          }
        });
      },
    },
  }, login, password, status, submit);
  mount(main, h('section.card.narrow',
    h('h1', 'Log in on behalf'),
    h('p', 'You are about to act for ', h('strong#customer-name', p.customerName), p.organization ? ` (${p.organization})` : '', '.'),
    h('dl.facts',
      h('dt', 'Asked by'), h('dd', p.operatorLogin),
      h('dt', 'Reason'), h('dd', p.reason || '—'),
      h('dt', 'Link valid until'), h('dd', clock(p.expiresAt))),
    h('p.muted', 'Enter your own login and password. Everything you do is recorded under your name and shown to the customer.'),
    form));
  login.input.focus();
}

// ---- sign in, banner, navigation -------------------------------------------------------------------

function signIn() {
  mount(banner);
  mount(nav);
  document.title = 'Sign in — behalf shop';
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
            const d = await gql('mutation($l:String!,$p:String!){ login(login:$l, password:$p){ token } }', { l: login.input.value.trim(), p: password.input.value });
            sessionStorage.setItem(CUSTOMER_KEY, d.login.token);
            viewer = null;
            render();
          } catch (err) {
            password.input.value = '';
            fail(err, status);
            password.input.focus();
          }
        });
      },
    },
  }, h('h1', 'Sign in to the shop'), flash, login, password, status, submit);
  flash = null;
  mount(main, form);
  login.input.focus();
}

function displayName(u) {
  return u.contact ? u.contact.fullName : u.login;
}

function renderBanner() {
  const s = viewer.session;
  if (!s || !s.onBehalf) {
    mount(banner);
    return;
  }
  const end = h('button.danger', { type: 'button', on: { click: (e) => busy(e.currentTarget, endOnBehalf) } }, 'End');
  mount(banner, h('div.banner', { role: 'region', 'aria-label': 'Login on behalf' },
    h('span.grow', 'Acting for ', h('strong', displayName(viewer.me)), ' as ', h('strong', s.operatorName || 'staff'),
      s.reason ? ` — ${s.reason}` : '', ` — ends at ${clock(s.expiresAt)}`),
    end));
}

async function endOnBehalf() {
  try {
    await api('mutation { endOnBehalf }');
  } catch (err) {
    if (!(err instanceof ApiError && err.code === 'UNAUTHENTICATED')) {
      fail(err);
      return;
    }
  }
  sessionStorage.removeItem(ONBEHALF_KEY);
  viewer = null;
  mount(banner);
  mount(nav);
  mount(main, h('section.card.narrow', h('h1', 'Session ended'),
    notice('The login-on-behalf session has ended; you are signed out of the customer’s account. You can close this tab.', 'ok')));
  main.focus();
}

function renderNav(current) {
  const link = (href, text, key) => h('a', { href, 'aria-current': current === key ? 'page' : null }, text);
  const items = [link('#/', 'Products', 'products'), link('#/cart', 'Cart', 'cart'), link('#/orders', 'Orders', 'orders')];
  if (!viewer.session.onBehalf) {
    items.push(link('#/account', 'My account', 'account'));
    items.push(h('span.who', `Signed in as ${displayName(viewer.me)}`));
    items.push(h('button.link', { type: 'button', on: { click: signOut } }, 'Sign out'));
  }
  mount(nav, items);
}

async function signOut() {
  try {
    await api('mutation { logout }');
  } catch { /* already ended */ }
  sessionStorage.removeItem(CUSTOMER_KEY);
  viewer = null;
  go('#/');
}

// ---- catalog ---------------------------------------------------------------------------------------

function addForm(p, status) {
  const qty = field('Quantity', { type: 'number', name: 'quantity', min: '1', max: String(Math.max(1, p.stock)), value: '1', required: true, inputmode: 'numeric' });
  const submit = h('button', { type: 'submit' }, 'Add to cart');
  return h('form.qty-form', {
    'aria-label': `Add ${p.name} to the cart`,
    on: {
      submit: (e) => {
        e.preventDefault();
        status.replaceChildren();
        busy(submit, async () => {
          try {
            const { addToCart: c } = await api('mutation($s:String!,$q:Int!){ addToCart(sku:$s, quantity:$q){ version items{ sku quantity } } }',
              { s: p.sku, q: Number(qty.input.value) });
            const line = c.items.find((i) => i.sku === p.sku);
            status.append(notice(`Added. ${line ? line.quantity : ''} in the cart.`, 'ok'));
          } catch (err) {
            fail(err, status);
          }
        });
      },
    },
  }, qty, submit);
}

function productsPage(params) {
  document.title = 'Products — behalf shop';
  const q = params.get('q') || '';
  const search = field('Search products', { type: 'search', name: 'q', value: q, placeholder: 'Name, sku or description', autocomplete: 'off' });
  const list = h('div');
  mount(main, h('h1', 'Products'),
    h('form.card', { role: 'search', on: { submit: (e) => { e.preventDefault(); go(`#/?q=${encodeURIComponent(search.input.value.trim())}`); } } },
      h('div.row', search, h('div.field', h('button', { type: 'submit' }, 'Search')))),
    list);
  const stack = [];
  async function load(after) {
    try {
      const { products } = await api(`query($s:String,$a:String){ products(search:$s, first:12, after:$a){ totalCount pageInfo{ hasNextPage endCursor }
        edges{ node{ id sku name price{ amount currency } stock } } } }`, { s: q || null, a: after });
      mount(list,
        products.edges.length ? h('div.grid', products.edges.map(({ node: p }) => {
          const status = h('div', { 'aria-live': 'polite' });
          return h('article.card.product', { dataset: { sku: p.sku } },
            h('h3', h('a', { href: `#/product/${encodeURIComponent(p.sku)}` }, p.name)),
            h('p.muted', p.sku, ' · ', p.stock > 0 ? `${p.stock} in stock` : 'out of stock'),
            h('p.price', money(p.price)),
            p.stock > 0 ? addForm(p, status) : null, status);
        })) : h('p.muted', 'No product matches.'),
        h('div.pager',
          h('button.secondary', { type: 'button', disabled: !stack.length, on: { click: () => load(stack.pop() || null) } }, 'Previous'),
          h('button.secondary', {
            type: 'button', disabled: !products.pageInfo.hasNextPage,
            on: { click: () => { stack.push(after); load(products.pageInfo.endCursor); } },
          }, 'Next'),
          h('span.muted', `${products.totalCount} products`)));
    } catch (err) {
      mount(list);
      fail(err, list);
    }
  }
  load(null);
}

async function productPage(sku) {
  try {
    const { product: p } = await api('query($s:String!){ product(sku:$s){ id sku name description price{ amount currency } stock } }', { s: sku });
    if (!p) {
      mount(main, h('h1', 'Not found'), notice('No such product.', 'error'));
      return;
    }
    document.title = `${p.name} — behalf shop`;
    const status = h('div', { 'aria-live': 'polite' });
    mount(main, h('p', h('a', { href: '#/' }, '← Products')),
      h('article.card.product', h('h1', p.name), h('p.muted', p.sku), h('p', p.description),
        h('p.price', money(p.price)), h('p', p.stock > 0 ? `${p.stock} in stock` : 'Out of stock'),
        p.stock > 0 ? addForm(p, status) : null, status));
  } catch (err) {
    mount(main);
    fail(err);
  }
}

// ---- cart ------------------------------------------------------------------------------------------

const CART = 'id version total{ amount currency } items{ sku quantity product{ name stock } unitPrice{ amount currency } lineTotal{ amount currency } }';

async function cartPage() {
  document.title = 'Cart — behalf shop';
  const status = h('div', { 'aria-live': 'polite' });
  try {
    const { cart } = await api(`{ cart { ${CART} } }`);
    drawCart(cart, status);
  } catch (err) {
    mount(main);
    fail(err);
  }
}

function drawCart(cart, status, upload = null) {
  const lines = cart.items.length ? h('div.table-wrap', h('table',
    h('caption.muted', { style: null }, `Cart version ${cart.version}`),
    h('thead', h('tr', h('th', { scope: 'col' }, 'Product'), h('th', { scope: 'col' }, 'Quantity'), h('th.num', { scope: 'col' }, 'Unit price'), h('th.num', { scope: 'col' }, 'Line total'), h('th', { scope: 'col' }, ''))),
    h('tbody', cart.items.map((i) => {
      const qty = h('input', { type: 'number', min: '0', value: String(i.quantity), 'aria-label': `Quantity of ${i.product.name}`, inputmode: 'numeric' });
      qty.addEventListener('change', async () => {
        try {
          const { updateCartItem: c } = await api(`mutation($s:String!,$q:Int!){ updateCartItem(sku:$s, quantity:$q){ ${CART} } }`, { s: i.sku, q: Number(qty.value) });
          drawCart(c, h('div', { 'aria-live': 'polite' }, notice('Cart updated.', 'ok')));
        } catch (err) {
          fail(err, status);
        }
      });
      return h('tr', { dataset: { sku: i.sku } },
        h('td', i.product.name, h('br'), h('small.muted', i.sku)),
        h('td', qty),
        h('td.num', money(i.unitPrice)),
        h('td.num', money(i.lineTotal)),
        h('td', h('button.secondary', {
          type: 'button', 'aria-label': `Remove ${i.product.name}`,
          on: {
            click: async () => {
              try {
                const { removeFromCart: c } = await api(`mutation($s:String!){ removeFromCart(sku:$s){ ${CART} } }`, { s: i.sku });
                drawCart(c, h('div', { 'aria-live': 'polite' }, notice('Line removed.', 'ok')));
              } catch (err) {
                fail(err, status);
              }
            },
          },
        }, 'Remove')));
    })))) : h('p.muted', 'Your cart is empty.');

  const place = h('button', { type: 'button', disabled: !cart.items.length }, 'Place order');
  const key = idempotencyKey(); // one key per rendering of the cart: a double click places one order
  place.addEventListener('click', () => busy(place, async () => {
    try {
      const { placeOrder: o } = await api('mutation($k:String!){ placeOrder(idempotencyKey:$k){ id number } }', { k: key });
      flash = notice(`Order ${o.number} placed. Choose how to pay.`, 'ok');
      go(`#/order/${o.id}`);
    } catch (err) {
      fail(err, status);
    }
  }));

  mount(main, h('h1', 'Cart'), status, lines,
    cart.items.length ? h('p.total', 'Total: ', h('span#cart-total', money(cart.total))) : null,
    h('div.actions', place),
    h('h2', 'Add lines from a file'),
    uploadForm(status),
    upload);
}

function uploadForm(status) {
  const file = field('CSV or XLSX file with the columns sku, quantity', { type: 'file', name: 'file', accept: '.csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', required: true },
    'Good lines are added; lines that cannot be ordered are listed below.');
  const submit = h('button', { type: 'submit' }, 'Upload');
  return h('form.card', {
    'aria-label': 'Bulk add from a file',
    on: {
      submit: (e) => {
        e.preventDefault();
        const f = file.input.files[0];
        if (!f) return;
        busy(submit, async () => {
          try {
            const { addToCartFromFile: r } = await gqlUpload(`mutation($f:Upload!){ addToCartFromFile(file:$f){ added errors{ line sku message } cart{ ${CART} } } }`, {}, 'f', f, token());
            const report = h('section.card#upload-result', { 'aria-label': 'Upload result' },
              notice(`${r.added} line${r.added === 1 ? '' : 's'} added from ${f.name}.`, 'ok'),
              r.errors.length ? [
                h('p', `${r.errors.length} line${r.errors.length === 1 ? ' was' : 's were'} not added:`),
                h('div.table-wrap', h('table',
                  h('thead', h('tr', h('th', { scope: 'col' }, 'Line'), h('th', { scope: 'col' }, 'Sku'), h('th', { scope: 'col' }, 'Problem'))),
                  h('tbody', r.errors.map((x) => h('tr.upload-error', h('td', String(x.line)), h('td', x.sku || '—'), h('td', x.message)))))),
              ] : null);
            drawCart(r.cart, h('div', { 'aria-live': 'polite' }), report);
          } catch (err) {
            fail(err, status);
          }
        });
      },
    },
  }, file, submit);
}

// ---- orders and payment ----------------------------------------------------------------------------

const ORDER = `id number status createdAt createdBy modifiedBy total{ amount currency }
  items{ sku name quantity unitPrice{ amount currency } lineTotal{ amount currency } }
  payments{ id method status amount{ amount currency } reference declineCode createdBy createdAt }`;

async function ordersPage() {
  document.title = 'Orders — behalf shop';
  try {
    const { orders } = await api(`{ orders(first:20){ totalCount edges{ node{ id number status createdAt createdBy total{ amount currency } } } } }`);
    mount(main, h('h1', 'Orders'),
      orders.edges.length ? h('div.table-wrap', h('table',
        h('thead', h('tr', ['Order', 'Placed', 'Status', 'Total', 'Placed by'].map((x) => h('th', { scope: 'col' }, x)))),
        h('tbody', orders.edges.map(({ node: o }) => h('tr',
          h('td', h('a', { href: `#/order/${o.id}` }, o.number)),
          h('td', when(o.createdAt)),
          h('td', statusText(o.status)),
          h('td.num', money(o.total)),
          h('td', o.createdBy !== viewer.me.login ? [`${o.createdBy} `, h('span.badge.warn', 'on your behalf')] : o.createdBy)))))) : h('p.muted', 'No orders yet.'));
  } catch (err) {
    mount(main);
    fail(err);
  }
}

function statusText(s) {
  return { PLACED: 'placed, not paid', AWAITING_PAYMENT: 'awaiting payment (invoice)', PAID: 'paid', CANCELLED: 'cancelled' }[s] || s;
}

async function orderPage(id) {
  try {
    const { order: o } = await api(`query($id:ID!){ order(id:$id){ ${ORDER} } }`, { id });
    if (!o) {
      mount(main, h('h1', 'Not found'), notice('No such order.', 'error'));
      return;
    }
    document.title = `Order ${o.number} — behalf shop`;
    const status = h('div', { 'aria-live': 'polite' }, flash);
    flash = null;
    mount(main, h('p', h('a', { href: '#/orders' }, '← Orders')),
      h('h1', `Order ${o.number}`), status,
      h('section.card', h('dl.facts',
        h('dt', 'Status'), h('dd#order-status', statusText(o.status)),
        h('dt', 'Placed'), h('dd', when(o.createdAt)),
        h('dt', 'Placed by'), h('dd', o.createdBy, o.createdBy !== viewer.me.login ? [' ', h('span.badge.warn', 'on the customer’s behalf')] : null),
        h('dt', 'Total'), h('dd.total', money(o.total)))),
      h('div.table-wrap', h('table',
        h('thead', h('tr', h('th', { scope: 'col' }, 'Product'), h('th.num', { scope: 'col' }, 'Quantity'), h('th.num', { scope: 'col' }, 'Unit price'), h('th.num', { scope: 'col' }, 'Line total'))),
        h('tbody', o.items.map((i) => h('tr', h('td', i.name, h('br'), h('small.muted', i.sku)), h('td.num', String(i.quantity)), h('td.num', money(i.unitPrice)), h('td.num', money(i.lineTotal))))))),
      o.payments.length ? [h('h2', 'Payments'), h('ul', o.payments.map((p) => h('li',
        `${when(p.createdAt)}: ${p.method === 'CARD' ? 'card' : 'invoice'} ${money(p.amount)} — ${p.status.toLowerCase()}`,
        p.reference ? ` (${p.reference})` : '', p.declineCode ? ` (${p.declineCode})` : '', ` by ${p.createdBy}`)))] : null,
      o.status === 'PLACED' ? payForm(o, status) : null);
  } catch (err) {
    mount(main);
    fail(err);
  }
}

function payForm(o, status) {
  const key = idempotencyKey();
  const radio = (value, label, checked) => h('label.choice', h('input', { type: 'radio', name: 'method', value, checked }), label);
  const card = field('Test card token', { type: 'select', name: 'token', options: [['tok_visa', 'tok_visa (succeeds)'], ['tok_chargeDeclined', 'tok_chargeDeclined (declined)']] },
    'A real shop gets this token from the payment provider’s own form; card numbers never reach behalf.');
  const submit = h('button', { type: 'submit' }, `Pay ${money(o.total)}`);
  return h('form.card', {
    'aria-label': 'Pay the order',
    on: {
      submit: (e) => {
        e.preventDefault();
        const method = e.currentTarget.querySelector('input[name="method"]:checked').value;
        busy(submit, async () => {
          try {
            const { payOrder: p } = await api(`mutation($o:ID!,$k:String!,$m:PaymentMethod!,$t:String){ payOrder(orderId:$o, idempotencyKey:$k, method:$m, paymentToken:$t){ status declineCode } }`,
              { o: o.id, k: key, m: method, t: method === 'CARD' ? card.input.value : null });
            flash = notice(p.status === 'DECLINED' ? `The card was declined (${p.declineCode}).` : p.status === 'PENDING' ? 'Invoice issued: the order awaits payment.' : 'Payment received. Thank you!', p.status === 'DECLINED' ? 'error' : 'ok');
            orderPage(o.id);
          } catch (err) {
            fail(err, status);
          }
        });
      },
    },
  }, h('h2', 'Pay'), h('fieldset', h('legend', 'Payment method'), radio('INVOICE', 'Invoice (pay within 30 days)', true), radio('CARD', 'Card', false)), card, submit);
}

// ---- my account ------------------------------------------------------------------------------------

const ACTIVITY = {
  'onbehalf.started': 'Signed in on your behalf', 'onbehalf.ended': 'Ended the session', 'cart.add': 'Added to your cart',
  'cart.update': 'Changed a cart line', 'cart.remove': 'Removed a cart line', 'cart.addFromFile': 'Added lines from a file',
  'order.place': 'Placed an order', 'order.pay': 'Paid an order',
};

async function accountPage() {
  document.title = 'My account — behalf shop';
  try {
    const d = await api(`{ me { id login allowLoginOnBehalf }
      mySessions { id current onBehalf operatorName reason createdAt expiresAt lastSeenAt ip userAgent }
      myOnBehalfActivity(first:20){ totalCount edges{ node{ id at action outcome actorName reason operation } } }
      orders(first:10){ edges{ node{ id number status createdBy createdAt total{ amount currency } } } } }`);
    const status = h('div', { 'aria-live': 'polite' });
    const consent = h('input', { type: 'checkbox', id: 'consent', checked: d.me.allowLoginOnBehalf });
    consent.addEventListener('change', async () => {
      status.replaceChildren();
      try {
        const { setAllowLoginOnBehalf: u } = await api('mutation($a:Boolean!){ setAllowLoginOnBehalf(allow:$a){ allowLoginOnBehalf } }', { a: consent.checked });
        consent.checked = u.allowLoginOnBehalf;
        status.append(notice(u.allowLoginOnBehalf ? 'Support staff may now log in on your behalf when you ask them to.' : 'Nobody can log in on your behalf now.', 'ok'));
      } catch (err) {
        consent.checked = !consent.checked;
        fail(err, status);
      }
    });
    const staffOrders = d.orders.edges.map((e) => e.node).filter((o) => o.createdBy !== d.me.login);
    mount(main, h('h1', 'My account'),
      h('section.card', { 'aria-labelledby': 'consent-h' }, h('h2#consent-h', 'Login on behalf'),
        h('label.switch', { for: 'consent' }, consent, 'Allow support staff to log in on my behalf'),
        h('p.muted', 'They confirm with their own password, see what you see, and everything they do is listed below.'), status),
      h('section.card', { 'aria-labelledby': 'sessions-h' }, h('h2#sessions-h', 'My sessions'), sessionsTable(d.mySessions)),
      h('section.card#activity', { 'aria-labelledby': 'activity-h' }, h('h2#activity-h', 'What was done for me'),
        d.myOnBehalfActivity.edges.length ? h('div.table-wrap', h('table',
          h('thead', h('tr', ['When', 'What', 'By', 'Reason', 'Result'].map((x) => h('th', { scope: 'col' }, x)))),
          h('tbody', d.myOnBehalfActivity.edges.map(({ node: e }) => h('tr', { dataset: { action: e.action } },
            h('td', when(e.at)), h('td', ACTIVITY[e.action] || e.action, ' ', h('small.muted', e.action)), h('td', e.actorName || '—'),
            h('td', e.reason || ''), h('td', e.outcome === 'SUCCESS' ? 'done' : 'refused')))))) : h('p.muted', 'Nobody has acted on your behalf.'),
        staffOrders.length ? [h('h3', 'Orders placed for me by staff'), h('ul', staffOrders.map((o) => h('li.staff-order',
          h('a', { href: `#/order/${o.id}` }, o.number), ` — ${when(o.createdAt)} — ${money(o.total)} — ${statusText(o.status)} — placed by ${o.createdBy}`)))] : null));
  } catch (err) {
    mount(main);
    fail(err);
  }
}

function sessionsTable(sessions) {
  if (!sessions.length) return h('p.muted', 'No live session.');
  return h('div.table-wrap', h('table',
    h('thead', h('tr', ['Started', 'Who', 'Why', 'From', ''].map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', sessions.map((s) => {
      const status = h('span');
      return h('tr', { dataset: { onBehalf: String(s.onBehalf) } },
        h('td', when(s.createdAt)),
        h('td', s.onBehalf ? [h('span.badge.warn', 'on your behalf'), ` ${s.operatorName || 'staff'}`] : s.current ? 'you (this browser)' : 'you'),
        h('td', s.reason || '—'),
        h('td', s.ip),
        h('td', s.current ? '' : h('button.secondary', {
          type: 'button', 'aria-label': s.onBehalf ? `End the session of ${s.operatorName || 'staff'}` : 'End this session',
          on: {
            click: (e) => busy(e.currentTarget, async () => {
              try {
                await api('mutation($id:ID!){ revokeSession(id:$id) }', { id: s.id });
                accountPage();
              } catch (err) {
                fail(err, status);
              }
            }),
          },
        }, 'End'), status));
    }))));
}

// ---- routing ---------------------------------------------------------------------------------------

async function render() {
  rendered = location.href;
  if (IMPERSONATE.test(location.pathname)) {
    confirmPage();
    return;
  }
  if (!token()) {
    signIn();
    return;
  }
  if (!viewer) {
    try {
      viewer = await api('{ me { id login contact { fullName } } session { id onBehalf reason expiresAt operatorName } }');
    } catch (err) {
      fail(err);
      return;
    }
    if (!viewer.me) {
      dropToken();
      signIn();
      return;
    }
  }
  renderBanner();
  const { parts, params } = route();
  const page = parts[0] || 'products';
  renderNav(page === 'product' ? 'products' : page === 'order' ? 'orders' : page);
  main.focus({ preventScroll: true });
  if (page === 'product' && parts[1]) productPage(decodeURIComponent(parts[1]));
  else if (page === 'cart') cartPage();
  else if (page === 'orders') ordersPage();
  else if (page === 'order' && parts[1]) orderPage(parts[1]);
  else if (page === 'account' && !viewer.session.onBehalf) accountPage();
  else productsPage(params);
}

// A fragment navigation fires both popstate and hashchange: render once per address.
let rendered = '';
const onNavigate = () => { if (location.href !== rendered) render(); };
window.addEventListener('hashchange', onNavigate);
window.addEventListener('popstate', onNavigate);
render();

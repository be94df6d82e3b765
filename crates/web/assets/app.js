// The page's entry: sign-in with an API token, the header with its navigation, and a router on
// the location hash (#/inbox, #/inbox/<conversation id>, #/templates, #/settings).

import { api, dropMedia, forgetToken, onUnauthorized, saveToken, token } from './api.js';
import { banner, field, h, replace } from './dom.js';

const root = document.getElementById('app');
let me = null;
let page = null;
let pageName = null;
let main = null;

const PAGES = {
  inbox: { title: 'Conversations', load: () => import('./inbox.js').then((m) => m.InboxPage) },
  templates: { title: 'Templates', load: () => import('./templates.js').then((m) => m.TemplatesPage) },
  settings: { title: 'Settings', load: () => import('./settings.js').then((m) => m.SettingsPage) },
};

onUnauthorized((error) => signOut(`You were signed out: ${error.message}`));

function showSignIn(reason) {
  const { wrap, control } = field('API token', 'input', {
    type: 'password', name: 'token', autocomplete: 'off', spellcheck: 'false', required: true,
    'aria-describedby': 'token-help',
  });
  const messages = h('div', { class: 'messages' }, reason ? banner('error', reason) : null);
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', { class: 'card signin-card', 'aria-labelledby': 'signin-title' },
    h('div', { class: 'brand brand-large' }, h('img', { src: iconUrl(), alt: '', width: 40, height: 40 }),
      h('h1', { id: 'signin-title' }, 'Switchboard')),
    h('p', {}, 'Your team\'s WhatsApp inbox. Sign in with an API token.'),
    messages,
    wrap,
    h('p', { id: 'token-help', class: 'hint' },
      'Create one with ', h('code', {}, 'switchboard token create --org <org> --role ADMIN'),
      ' or ask an admin. It is kept only in this tab and forgotten when you close it.'),
    submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const candidate = control.value.trim();
    if (!candidate) return;
    submit.disabled = true;
    try {
      const who = await api.get('/api/me', { as: candidate });
      saveToken(candidate);
      start(who);
    } catch (error) {
      replace(messages, banner('error', error.status === 401
        ? `That token was refused: ${error.message}`
        : error.message, error.code));
      submit.disabled = false;
      control.focus();
    }
  });
  replace(root, h('main', { id: 'main', class: 'signin', tabindex: '-1' }, form));
  document.title = 'Sign in · Switchboard';
  control.focus();
}

function iconUrl() {
  const link = document.querySelector('link[rel="icon"]');
  return link ? link.getAttribute('href') : '';
}

function start(who) {
  me = who;
  main = h('main', { id: 'main', class: 'main', tabindex: '-1' });
  const nav = h('nav', { class: 'nav', 'aria-label': 'Sections' },
    Object.entries(PAGES).map(([name, { title }]) =>
      h('a', { href: `#/${name}`, class: 'nav-link', dataset: { page: name } }, title)));
  const header = h('header', { class: 'topbar' },
    h('div', { class: 'brand' }, h('img', { src: iconUrl(), alt: '', width: 28, height: 28 }),
      h('span', { class: 'brand-name' }, 'Switchboard'),
      h('span', { class: 'org-name' }, me.organizationName)),
    nav,
    h('div', { class: 'user' },
      h('span', { class: 'user-name' }, me.name, h('span', { class: 'role' }, me.role)),
      h('button', { type: 'button', class: 'secondary', onclick: () => signOut() }, 'Sign out')));
  replace(root, header, main);
  pageName = null;
  route();
}

function signOut(reason) {
  if (page && page.destroy) page.destroy();
  page = null;
  pageName = null;
  me = null;
  forgetToken();
  dropMedia();
  showSignIn(reason);
}

function parseHash() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const name = PAGES[parts[0]] ? parts[0] : 'inbox';
  return { name, params: parts.slice(1) };
}

async function route() {
  if (!me) return;
  const { name, params } = parseHash();
  for (const link of document.querySelectorAll('.nav-link')) {
    if (link.dataset.page === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.title = `${PAGES[name].title} · Switchboard`;
  if (page && pageName === name && page.navigate) {
    page.navigate(params);
    return;
  }
  if (page && page.destroy) page.destroy();
  pageName = name;
  const Page = await PAGES[name].load();
  if (pageName !== name || !me) return; // another navigation won meanwhile
  replace(main);
  page = new Page({ root: main, me, params });
}

window.addEventListener('hashchange', () => {
  // In-page anchors such as the skip link are not routes.
  if (location.hash.startsWith('#/') || location.hash === '') route();
});

if (token()) {
  api.get('/api/me').then(start, (error) => {
    // A 401 has already signed out with its reason.
    if (error.status !== 401) showSignIn(error.message);
  });
} else {
  showSignIn();
}

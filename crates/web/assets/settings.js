// The Settings page (OWNER and ADMIN): the WhatsApp numbers with their health, what to paste
// into Meta's webhook settings, a connection test, and the organization's API tokens.

import { api, token as sessionToken } from './api.js';
import { announce, copyField, field, h, replace, showBanner, showError, timeEl } from './dom.js';

const ADMINS = ['OWNER', 'ADMIN'];

export class SettingsPage {
  constructor({ root, me }) {
    this.me = me;
    if (!ADMINS.includes(me.role)) {
      replace(root, h('div', { class: 'page' }, h('h2', {}, 'Settings'),
        h('p', { class: 'note' }, `Settings are for owners and admins; you are signed in as ${me.role.toLowerCase()}. Ask an admin to change the WhatsApp number or API tokens.`)));
      return;
    }
    this.banners = h('div', { class: 'messages' });
    this.channels = h('div', { class: 'channels' }, h('p', { class: 'muted' }, 'Loading…'));
    this.tokens = h('tbody');
    this.newToken = h('div');
    replace(root, h('div', { class: 'page' },
      h('div', { class: 'page-head' }, h('h2', {}, 'Settings')),
      this.banners,
      h('section', { 'aria-labelledby': 'channels-title' }, h('h3', { id: 'channels-title' }, 'WhatsApp numbers'), this.channels),
      h('section', { 'aria-labelledby': 'tokens-title' }, h('h3', { id: 'tokens-title' }, 'API tokens'),
        h('p', { class: 'hint' }, 'Tokens let your servers and this inbox call the API as a user. Each is shown once, when it is created.'),
        this.newToken, this.tokenForm(),
        h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
          h('caption', { class: 'visually-hidden' }, 'API tokens'),
          h('thead', {}, h('tr', {}, ['Name', 'Prefix', 'User', 'Created', 'Last used', 'State', ''].map((t) => h('th', { scope: 'col' }, t)))),
          this.tokens)))));
    this.loadChannels();
    this.loadTokens();
  }

  async loadChannels() {
    try {
      const [list, status] = await Promise.all([
        api.get('/api/integrations/whatsapp/channels'),
        // Webhook and token health, from a newer route: the cards go without it if it is missing.
        api.get('/api/whatsapp/status').catch((error) => (error.status === 404 ? null : Promise.reject(error))),
      ]);
      this.health = new Map(((status && status.channels) || []).map((c) => [c.id, c]));
      if (!list.data.length) {
        replace(this.channels, h('p', { class: 'note' }, 'No WhatsApp number yet. Add one with ',
          h('code', {}, 'switchboard channel add'), ' or the WHATSAPP_* variables.'));
        return;
      }
      replace(this.channels, list.data.map((c) => this.channelCard(c)));
    } catch (error) {
      if (error.status !== 401) showError(this.banners, error);
    }
  }

  channelCard(c) {
    const setup = h('div', { class: 'webhook-setup' }, h('p', { class: 'muted' }, 'Loading the webhook settings…'));
    const results = h('div', { class: 'test-results', 'aria-live': 'polite' });
    const test = h('button', { type: 'button', class: 'secondary' }, 'Test connection');
    test.addEventListener('click', () => this.testConnection(c, test, results));
    const healthy = c.status === 'ACTIVE';
    const card = h('article', { class: 'card channel', 'aria-labelledby': `channel-${c.id}` },
      h('h4', { id: `channel-${c.id}` }, c.name, ' ',
        h('span', { class: `status-pill ${healthy ? 'status-approved' : 'status-rejected'}` }, healthy ? 'active' : c.status.toLowerCase())),
      c.statusReason ? h('p', { class: 'failure' }, c.statusReason) : null,
      h('dl', { class: 'facts' },
        fact('Number', c.displayPhoneNumber ? `+${c.displayPhoneNumber.replace(/^\+/, '')}` : '—'),
        fact('Phone number id', c.phoneNumberId),
        fact('WhatsApp Business Account', c.wabaId || '—'),
        fact('Quality', c.qualityRating ? c.qualityRating.toLowerCase() : 'not reported yet'),
        fact('Messages per second', String(c.messagesPerSecond)),
        this.healthFacts(c.id)),
      h('h5', {}, 'Webhook for Meta'),
      h('p', { class: 'hint' }, 'In Meta\'s app dashboard, WhatsApp › Configuration › Webhook: paste these, then subscribe to the "messages" field.'),
      setup,
      h('div', { class: 'composer-buttons' }, test), results);
    this.loadSetup(c, setup);
    return card;
  }

  /** The last webhook from Meta and whether Meta took the token at the last check. */
  healthFacts(id) {
    const health = this.health && this.health.get(id);
    if (!health) return null;
    const token = health.health || {};
    return [
      fact('Last webhook from Meta', health.lastWebhookAt ? timeEl(health.lastWebhookAt) : 'none yet'),
      fact('Access token', token.tokenValid === true ? 'accepted by Meta'
        : token.tokenValid === false ? `refused: ${token.error || 'see Test connection'}` : 'not checked yet'),
    ];
  }

  async loadSetup(c, el) {
    try {
      const setup = await api.get(`/api/integrations/whatsapp/channels/${encodeURIComponent(c.id)}/webhook-setup`);
      replace(el,
        copyField('Callback URL', `${location.origin}${setup.callbackPath}`),
        setup.verifyToken
          ? copyField('Verify token', setup.verifyToken)
          : h('p', { class: 'note' }, 'This number has no verify token: set one with ',
            h('code', {}, 'switchboard channel add --verify-token …'), ' or WHATSAPP_VERIFY_TOKEN.'),
        setup.appSecretConfigured
          ? h('p', { class: 'hint' }, 'Webhook signatures are checked with the app secret.')
          : h('p', { class: 'failure' }, 'No app secret: webhook signatures cannot be checked. Add it with --app-secret or WHATSAPP_APP_SECRET.'));
    } catch (error) {
      if (error.status !== 401) replace(el, h('p', { class: 'failure' }, error.message));
    }
  }

  async testConnection(c, button, results) {
    button.disabled = true;
    replace(results, h('p', { class: 'muted' }, 'Testing…'));
    try {
      const answer = await api.post('/api/integrations/whatsapp/test', { channelId: c.id });
      replace(results,
        h('p', { class: answer.ok ? 'success' : 'failure' }, answer.ok ? 'Connection works.' : 'Something needs fixing:'),
        h('ul', { class: 'steps' }, (answer.steps || []).map((s) => h('li', { class: s.ok ? 'step-ok' : 'step-failed' },
          h('span', { class: 'step-mark', 'aria-hidden': 'true' }, s.ok ? '✓' : '✕'),
          h('span', { class: 'visually-hidden' }, s.ok ? 'passed: ' : 'failed: '),
          h('strong', {}, s.name), s.detail ? ` — ${s.detail}` : ''))));
      announce(answer.ok ? 'Connection test passed' : 'Connection test failed');
    } catch (error) {
      if (error.status === 404 && error.code !== 'NOT_FOUND') {
        replace(results, h('p', { class: 'note' }, 'Testing the connection is not available in this version of Switchboard.'));
      } else if (error.status !== 401) {
        replace(results, h('p', { class: 'failure' }, error.message));
      }
    } finally {
      button.disabled = false;
    }
  }

  async loadTokens() {
    try {
      const list = await api.get('/api/tokens');
      const mine = sessionToken() || '';
      replace(this.tokens, list.data.map((t) => {
        const revoke = t.revokedAt ? null : h('button', { type: 'button', class: 'danger small' }, 'Revoke');
        if (revoke) {
          revoke.addEventListener('click', () => {
            if (revoke.dataset.confirm) { this.revoke(t); return; }
            revoke.dataset.confirm = 'yes';
            revoke.textContent = 'Confirm revoke';
            revoke.setAttribute('aria-label', `Confirm: revoke ${t.name}; anything using it stops working`);
          });
        }
        return h('tr', {},
          h('th', { scope: 'row' }, t.name, mine.startsWith(t.prefix) ? h('span', { class: 'muted' }, ' (this tab)') : null),
          h('td', { class: 'mono' }, `${t.prefix}…`),
          h('td', {}, `${t.userName} (${t.role.toLowerCase()})`),
          h('td', {}, timeEl(t.createdAt)),
          h('td', {}, t.lastUsedAt ? timeEl(t.lastUsedAt) : '—'),
          h('td', {}, t.revokedAt ? h('span', { class: 'status-pill status-rejected' }, 'revoked') : h('span', { class: 'status-pill status-approved' }, 'active')),
          h('td', {}, revoke));
      }));
    } catch (error) {
      if (error.status !== 401) showError(this.banners, error);
    }
  }

  async revoke(t) {
    try {
      await api.delete(`/api/tokens/${encodeURIComponent(t.id)}`);
      showBanner(this.banners, 'info', `${t.name} was revoked: it stopped working.`);
      await this.loadTokens();
    } catch (error) {
      showError(this.banners, error);
    }
  }

  tokenForm() {
    const name = field('Token name', 'input', { type: 'text', name: 'token-name', required: true, maxlength: 200,
      placeholder: 'e.g. CRM sync', autocomplete: 'off' });
    const user = field('Acts as', 'select', { name: 'token-user' }, h('option', { value: '' }, 'Me'));
    api.get('/api/users').then((list) => {
      for (const u of list.data) {
        if (u.id !== this.me.userId) user.control.append(h('option', { value: u.id }, `${u.name} (${u.role.toLowerCase()})`));
      }
    }, () => {});
    const button = h('button', { type: 'submit', class: 'primary' }, 'Create token');
    const form = h('form', { class: 'inline-form', 'aria-label': 'Create an API token' }, name.wrap, user.wrap, button);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      button.disabled = true;
      try {
        const created = await api.post('/api/tokens', { name: name.control.value.trim(), userId: user.control.value || undefined });
        replace(this.newToken, h('div', { class: 'card new-token', role: 'status' },
          h('p', {}, h('strong', {}, `${created.name} created.`), ' Copy it now: it is not shown again.'),
          copyField('New API token', created.token)));
        form.reset();
        await this.loadTokens();
      } catch (error) {
        showError(this.banners, error);
      } finally {
        button.disabled = false;
      }
    });
    return form;
  }
}

function fact(term, value) {
  return h('div', { class: 'fact' }, h('dt', {}, term), h('dd', {}, value));
}

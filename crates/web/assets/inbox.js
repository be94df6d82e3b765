// The Conversations page: the list (filters, search, live by polling) and the open
// conversation beside it (thread.js). On a phone they are two views with a back button.

import { api, query } from './api.js';
import { announce, h, replace, showBanner, showError, timeEl } from './dom.js';
import { ThreadView, displayName, displayPhone } from './thread.js';

/** How often the list and the open thread ask the API for news. */
export const POLL_MS = 2500;
const PAGE_SIZE = 50;

const FILTERS = [
  { key: 'all', label: 'All' },
  { key: 'mine', label: 'Mine', params: { assignedTo: 'me' } },
  { key: 'unassigned', label: 'Unassigned', params: { assignedTo: 'none' } },
  { key: 'unread', label: 'Unread', params: { unread: 'true' } },
];

export class InboxPage {
  constructor({ root, me, params }) {
    this.me = me;
    this.filter = 'all';
    this.search = '';
    this.pages = 1;
    this.items = new Map(); // conversation id → {li, link, signature, data}
    this.loadedOnce = false;
    this.destroyed = false;
    this.thread = null;
    this.cache = {}; // users, pipelines, templates: fetched once per page visit

    this.listMessages = h('div', { class: 'messages' });
    this.list = h('ul', { class: 'conversation-list', 'aria-labelledby': 'list-title' });
    this.empty = h('p', { class: 'empty', hidden: true }, 'No conversations here yet.');
    this.more = h('button', { type: 'button', class: 'secondary load-more', hidden: true,
      onclick: () => { this.pages += 1; this.refreshList(); } }, 'Show more conversations');
    this.threadPane = h('section', { class: 'pane thread-pane', 'aria-label': 'Conversation' });
    this.sidePane = h('aside', { class: 'pane side-pane', id: 'details', 'aria-label': 'Details' });
    this.el = h('div', { class: 'inbox', dataset: { view: 'list', details: 'closed' } },
      h('section', { class: 'pane list-pane', 'aria-labelledby': 'list-title' },
        h('div', { class: 'list-head' },
          h('h2', { id: 'list-title', class: 'pane-title' }, 'Conversations'),
          this.searchForm(),
          this.filterButtons()),
        this.listMessages, this.list, this.empty, this.more),
      this.threadPane, this.sidePane);
    replace(root, this.el);
    this.el.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && this.el.dataset.details === 'open' && this.thread) this.thread.toggleDetails(false);
    });
    this.navigate(params);
    this.poll();
  }

  searchForm() {
    const input = h('input', { type: 'search', id: 'conversation-search', name: 'search',
      placeholder: 'Name or phone', autocomplete: 'off' });
    let typing = null;
    input.addEventListener('input', () => {
      clearTimeout(typing);
      typing = setTimeout(() => { this.search = input.value.trim(); this.pages = 1; this.refreshList(); }, 250);
    });
    const form = h('form', { class: 'search', role: 'search', onsubmit: (e) => {
      e.preventDefault();
      this.search = input.value.trim();
      this.refreshList();
    } }, h('label', { for: 'conversation-search', class: 'visually-hidden' }, 'Search conversations'), input);
    return form;
  }

  filterButtons() {
    const group = h('div', { class: 'filters', role: 'group', 'aria-label': 'Show conversations' });
    for (const { key, label } of FILTERS) {
      group.append(h('button', { type: 'button', class: 'chip', 'aria-pressed': String(key === this.filter),
        dataset: { filter: key },
        onclick: () => {
          this.filter = key;
          this.pages = 1;
          for (const b of group.children) b.setAttribute('aria-pressed', String(b.dataset.filter === key));
          this.refreshList();
        } }, label));
    }
    return group;
  }

  /** Called by the router for #/inbox/<id>: opens that conversation (or the list alone). */
  navigate(params) {
    const id = params[0] || null;
    if (this.thread && this.thread.id === id) return;
    if (this.thread) this.thread.destroy();
    this.thread = null;
    this.el.dataset.view = id ? 'thread' : 'list';
    if (id) {
      this.thread = new ThreadView({ inbox: this, id, pane: this.threadPane, side: this.sidePane });
    } else {
      replace(this.threadPane, h('div', { class: 'placeholder' },
        h('p', {}, 'Choose a conversation to read and answer it.')));
      replace(this.sidePane);
    }
    for (const [itemId, item] of this.items) markCurrent(item.link, itemId === id);
    if (!id && this.lastOpened) {
      // Back from a thread on a phone: return focus to the conversation it came from.
      const item = this.items.get(this.lastOpened);
      if (item) item.link.focus();
    }
    this.lastOpened = id || this.lastOpened;
  }

  /** Users, pipelines and approved templates, fetched once while the page is open. */
  cached(key, path) {
    if (!this.cache[key]) {
      this.cache[key] = api.get(path);
      this.cache[key].catch(() => { delete this.cache[key]; });
    }
    return this.cache[key];
  }

  forget(key) {
    delete this.cache[key];
  }

  async poll() {
    if (this.destroyed) return;
    if (!document.hidden || !this.loadedOnce) {
      await Promise.all([this.refreshList(), this.thread ? this.thread.refresh() : null]);
    }
    if (!this.destroyed) this.timer = setTimeout(() => this.poll(), POLL_MS);
  }

  async refreshList() {
    const ask = { filter: this.filter, search: this.search, pages: this.pages };
    const { params = {} } = FILTERS.find((f) => f.key === this.filter);
    try {
      let data = [];
      let total = 0;
      for (let page = 1; page <= ask.pages; page += 1) {
        const answer = await api.get(`/api/integrations/conversations${query({ ...params, search: ask.search, page, limit: PAGE_SIZE })}`);
        data = data.concat(answer.data);
        total = answer.total;
        if (answer.data.length < PAGE_SIZE) break;
      }
      // A filter changed while this was in flight: its own refresh will draw.
      if (this.destroyed || ask.filter !== this.filter || ask.search !== this.search) return;
      this.draw(data, total);
      if (this.listError) { this.listMessages.replaceChildren(); this.listError = false; }
    } catch (error) {
      if (this.destroyed || error.status === 401) return;
      this.listError = true;
      showError(this.listMessages, error);
    }
  }

  /** Updates the list in place: rows are keyed by id, redrawn only when they changed and
   * moved only when their place changed, so focus and scroll stay where they were. */
  draw(conversations, total) {
    const seen = new Set();
    let cursor = this.list.firstChild;
    for (const c of conversations) {
      seen.add(c.id);
      let item = this.items.get(c.id);
      const signature = JSON.stringify([c.lastMessageAt, c.lastMessageText, c.unreadCount,
        c.assignedToName, c.windowOpen, c.leadName, c.contactName, c.phone]);
      if (!item) {
        const link = h('a', { class: 'conversation', href: `#/inbox/${encodeURIComponent(c.id)}` });
        item = { li: h('li', {}, link), link, signature: null, data: null };
        this.items.set(c.id, item);
      }
      if (item.signature !== signature) {
        if (this.loadedOnce && item.data && c.lastMessageAt !== item.data.lastMessageAt
          && c.lastMessageDirection === 'INBOUND') {
          announce(`New message from ${displayName(c)}`);
        }
        this.drawItem(item.link, c);
        item.signature = signature;
      }
      item.data = c;
      markCurrent(item.link, this.thread && this.thread.id === c.id);
      if (item.li !== cursor) this.list.insertBefore(item.li, cursor);
      else cursor = cursor.nextSibling;
    }
    for (const [id, item] of this.items) {
      if (!seen.has(id)) {
        item.li.remove();
        this.items.delete(id);
      }
    }
    this.empty.hidden = conversations.length > 0;
    this.empty.textContent = this.search || this.filter !== 'all'
      ? 'No conversation matches.' : 'No conversations yet. They appear here when customers write.';
    this.more.hidden = conversations.length >= total;
    this.loadedOnce = true;
    if (this.thread) {
      const fresh = conversations.find((c) => c.id === this.thread.id);
      if (fresh) this.thread.updateConversation(fresh);
    }
  }

  drawItem(link, c) {
    const name = displayName(c);
    const snippet = c.lastMessageText
      ? `${c.lastMessageDirection === 'OUTBOUND' ? 'You: ' : ''}${c.lastMessageText}` : 'No messages yet';
    const unread = c.unreadCount > 0
      ? h('span', { class: 'badge', 'aria-label': `${c.unreadCount} unread` }, String(c.unreadCount)) : null;
    const closed = c.windowOpen ? null
      : h('span', { class: 'window-closed marker', title: '24-hour window closed: only approved templates can be sent' },
        'Window closed');
    replace(link,
      h('span', { class: 'row' }, h('span', { class: 'name' }, name), c.lastMessageAt ? timeEl(c.lastMessageAt) : null),
      h('span', { class: 'row' },
        name !== displayPhone(c.phone) ? h('span', { class: 'phone' }, displayPhone(c.phone)) : h('span'),
        h('span', { class: 'assignee' }, c.assignedToName ? `→ ${c.assignedToName}` : 'Unassigned')),
      h('span', { class: 'row' }, h('span', { class: 'snippet' }, snippet), unread),
      closed);
    link.classList.toggle('unread', c.unreadCount > 0);
  }

  /** A conversation changed by an action here (assigned, marked read): redraw its row now. */
  conversationChanged(c) {
    const item = this.items.get(c.id);
    if (item) {
      this.drawItem(item.link, c);
      item.data = c;
      item.signature = null;
    }
    this.refreshList();
  }

  notice(kind, message) {
    showBanner(this.listMessages, kind, message);
  }

  destroy() {
    this.destroyed = true;
    clearTimeout(this.timer);
    if (this.thread) this.thread.destroy();
  }
}

function markCurrent(link, current) {
  if (current) link.setAttribute('aria-current', 'true');
  else link.removeAttribute('aria-current');
}

// One conversation: its header (assign, mark read), the thread with delivery ticks and media,
// the composer (text inside the 24-hour window, an approved template outside it), and the
// side panel with the lead, its notes and the ticket.

import { api, mediaUrl, query } from './api.js';
import { announce, field, fullTime, h, replace, showBanner, showError, timeEl, uid } from './dom.js';

const PAGE_SIZE = 50;
const EDITORS = ['OWNER', 'ADMIN', 'MANAGER'];

export const TICKET_STATUSES = [
  ['new', 'New'], ['in_progress', 'In progress'], ['waiting_customer', 'Waiting for customer'],
  ['resolved', 'Resolved'], ['closed', 'Closed'], ['cancelled', 'Cancelled'],
];

export function displayPhone(phone) {
  return /^\d+$/.test(phone || '') ? `+${phone}` : (phone || '');
}

export function displayName(c) {
  return c.leadName || c.contactName || displayPhone(c.phone);
}

/** The recipient as the send routes read it: E.164 with '+', or a WhatsApp user id as is. */
function recipient(c) {
  return displayPhone(c.phone);
}

export class ThreadView {
  constructor({ inbox, id, pane, side }) {
    this.inbox = inbox;
    this.me = inbox.me;
    this.id = id;
    this.conversation = null;
    this.messages = new Map(); // message id → data
    this.rows = new Map(); // message id → {li, signature}
    this.total = 0;
    this.pages = 1;
    this.destroyed = false;
    this.composerMode = null;

    this.banners = h('div', { class: 'messages' });
    this.title = h('h2', { class: 'thread-title', id: uid('thread-title') }, 'Loading…');
    this.subtitle = h('p', { class: 'thread-subtitle' });
    this.actions = h('div', { class: 'thread-actions' });
    this.older = h('button', { type: 'button', class: 'secondary load-older', hidden: true,
      onclick: () => this.loadOlder() }, 'Show older messages');
    this.log = h('ol', { class: 'thread', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions',
      'aria-labelledby': this.title.id });
    this.scroller = h('div', { class: 'thread-scroll', tabindex: '0', 'aria-label': 'Messages' }, this.older, this.log);
    this.composer = h('div', { class: 'composer-wrap' });
    const back = h('a', { class: 'back', href: '#/inbox', 'aria-label': 'Back to conversations' },
      h('span', { 'aria-hidden': 'true' }, '←'), h('span', { class: 'back-text' }, ' Back'));
    this.detailsToggle = h('button', { type: 'button', class: 'secondary details-toggle',
      'aria-expanded': 'false', 'aria-controls': 'details', onclick: () => this.toggleDetails() }, 'Details');
    replace(pane,
      h('header', { class: 'thread-head' }, back,
        h('div', { class: 'who' }, this.title, this.subtitle), this.detailsToggle, this.actions),
      this.banners, this.scroller, this.composer);
    this.side = new SidePanel(this, side);
    this.refresh(true);
  }

  /** Shows or hides the details over the thread (on screens too narrow for three columns). */
  toggleDetails(open = this.inbox.el.dataset.details !== 'open') {
    this.inbox.el.dataset.details = open ? 'open' : 'closed';
    this.detailsToggle.setAttribute('aria-expanded', String(open));
    if (open) this.side.el.querySelector('.close-details').focus();
    else this.detailsToggle.focus();
  }

  async refresh(first = false) {
    try {
      const [conversation, page] = await Promise.all([
        api.get(`/api/integrations/conversations/${encodeURIComponent(this.id)}`),
        api.get(`/api/integrations/conversations/${encodeURIComponent(this.id)}/messages${query({ limit: PAGE_SIZE })}`),
      ]);
      if (this.destroyed) return;
      this.updateConversation(conversation);
      this.total = Math.max(this.total, page.total);
      this.merge(page.data, first ? 'bottom' : 'keep');
      if (this.refreshError) { this.banners.replaceChildren(); this.refreshError = false; }
    } catch (error) {
      if (this.destroyed || error.status === 401) return;
      this.refreshError = true;
      showError(this.banners, error);
    }
  }

  async loadOlder() {
    this.pages += 1;
    try {
      const page = await api.get(`/api/integrations/conversations/${encodeURIComponent(this.id)}/messages${query({ limit: PAGE_SIZE, page: this.pages })}`);
      if (!this.destroyed) this.merge(page.data, 'older');
    } catch (error) {
      this.pages -= 1;
      showError(this.banners, error);
    }
  }

  updateConversation(c) {
    const before = this.conversation;
    this.conversation = c;
    this.title.textContent = displayName(c);
    const parts = [displayPhone(c.phone)];
    if (c.contactName && c.contactName !== displayName(c)) parts.push(`WhatsApp: ${c.contactName}`);
    replace(this.subtitle, parts.join(' · '), ' · ', windowState(c));
    const actionsSignature = JSON.stringify([c.unreadCount, c.assignedToId]);
    if (!before || this.actionsSignature !== actionsSignature) {
      this.drawActions(c);
      this.actionsSignature = actionsSignature;
    }
    const mode = c.windowOpen ? 'text' : 'template';
    if (!before || before.windowOpen !== c.windowOpen) this.drawComposer(mode);
    this.side.update(c);
  }

  drawActions(c) {
    const focused = this.actions.contains(document.activeElement) ? document.activeElement.dataset.focusKey : null;
    const markRead = c.unreadCount > 0
      ? h('button', { type: 'button', class: 'secondary', dataset: { focusKey: 'read' }, onclick: () => this.markRead() },
        `Mark read (${c.unreadCount})`)
      : null;
    let assign = null;
    if (EDITORS.includes(this.me.role)) {
      const select = h('select', { id: uid('assign'), dataset: { focusKey: 'assign' } },
        h('option', { value: '' }, 'Unassigned'));
      assign = h('div', { class: 'assign' }, h('label', { for: select.id }, 'Assigned to'), select,
        c.assignedToId !== this.me.userId
          ? h('button', { type: 'button', class: 'secondary', dataset: { focusKey: 'me' }, onclick: () => this.assign(this.me.userId) }, 'Assign to me')
          : null);
      this.inbox.cached('users', '/api/users').then((users) => {
        for (const u of users.data) select.append(h('option', { value: u.id, selected: u.id === c.assignedToId }, `${u.name} (${u.role.toLowerCase()})`));
        select.value = c.assignedToId || '';
      }, (error) => showError(this.banners, error));
      select.addEventListener('change', () => this.assign(select.value || null));
    } else {
      assign = h('p', { class: 'assign' }, c.assignedToName ? `Assigned to ${c.assignedToName}` : 'Unassigned');
    }
    replace(this.actions, markRead, assign);
    if (focused) {
      const again = this.actions.querySelector(`[data-focus-key="${focused}"]`);
      if (again) again.focus();
    }
  }

  async markRead() {
    try {
      const marked = await api.patch(`/api/integrations/conversations/${encodeURIComponent(this.id)}/mark-read`);
      this.updateConversation(marked.conversation);
      this.inbox.conversationChanged(marked.conversation);
      announce('Marked read');
    } catch (error) {
      showError(this.banners, error);
    }
  }

  async assign(userId) {
    try {
      const c = await api.patch(`/api/integrations/conversations/${encodeURIComponent(this.id)}/assign`, { assignedToId: userId });
      this.updateConversation(c);
      this.inbox.conversationChanged(c);
      announce(c.assignedToName ? `Assigned to ${c.assignedToName}` : 'Unassigned');
    } catch (error) {
      showError(this.banners, error);
    }
  }

  /** Adds and updates messages in place, oldest first. `scroll`: 'bottom' (first load),
   * 'keep' (polling: follow new messages only when already at the bottom), 'older'. */
  merge(page, scroll) {
    const s = this.scroller;
    const atBottom = s.scrollHeight - s.scrollTop - s.clientHeight < 80;
    const heightBefore = s.scrollHeight;
    const topBefore = s.scrollTop;
    let added = 0;
    for (const m of page) {
      if (!this.messages.has(m.id)) added += 1;
      this.messages.set(m.id, m);
    }
    const ordered = [...this.messages.values()].sort((a, b) =>
      a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : (a.id < b.id ? -1 : 1));
    let cursor = this.log.firstChild;
    for (const m of ordered) {
      let row = this.rows.get(m.id);
      const signature = JSON.stringify([m.status, m.errorCode, m.text, m.media && m.media.download]);
      if (!row) {
        row = { li: h('li', { class: `message ${m.direction === 'INBOUND' ? 'inbound' : 'outbound'}`, dataset: { id: m.id } }), signature: null };
        this.rows.set(m.id, row);
      }
      if (row.signature !== signature) {
        this.drawMessage(row.li, m);
        row.signature = signature;
      }
      if (row.li !== cursor) this.log.insertBefore(row.li, cursor);
      else cursor = cursor.nextSibling;
    }
    this.older.hidden = this.messages.size >= this.total;
    this.log.dataset.loaded = String(this.messages.size);
    this.log.dataset.total = String(this.total);
    if (scroll === 'older') s.scrollTop = topBefore + (s.scrollHeight - heightBefore);
    else if (scroll === 'bottom' || (atBottom && added > 0)) this.scrollToBottom();
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  drawMessage(li, m) {
    const content = [];
    if (m.templateName) content.push(h('p', { class: 'template-tag' }, `Template: ${m.templateName}`));
    if (m.media) content.push(this.media(m));
    if (m.text) content.push(h('p', { class: 'text' }, m.text));
    if (!m.text && !m.media && !m.templateName) content.push(h('p', { class: 'text muted' }, `[${m.type}]`));
    const meta = h('p', { class: 'meta' }, timeEl(m.createdAt, new Date(m.createdAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })),
      m.direction === 'OUTBOUND' ? ticks(m) : null);
    const failed = m.status === 'FAILED'
      ? h('p', { class: 'failure' }, `Not delivered: ${m.errorMessage || 'Meta refused it'}${m.errorCode ? ` (${m.errorCode})` : ''}`)
      : null;
    replace(li, h('div', { class: 'bubble' }, content, meta), failed);
  }

  /** Images inline (fetched with the token, shown from a blob: URL); other files as links. */
  media(m) {
    const { media } = m;
    const download = media.download;
    const label = media.filename || `${m.type} file`;
    if (!download) return h('p', { class: 'file muted' }, `${label} (${media.mimeType || m.type})`);
    if (download.status === 'PENDING') return h('p', { class: 'file muted' }, `Downloading ${label}…`);
    if (download.status === 'FAILED' || !download.url) {
      return h('p', { class: 'file failure' }, `${label} could not be downloaded: ${download.error || 'unknown reason'}`);
    }
    const isImage = (media.mimeType || '').startsWith('image/') || m.type === 'image' || m.type === 'sticker';
    if (isImage) {
      const img = h('img', { class: 'media-image', alt: media.filename || (m.direction === 'INBOUND' ? 'Photo from the customer' : 'Photo'), width: 240, height: 180 });
      mediaUrl(download.url).then((url) => {
        const follow = this.scroller.scrollHeight - this.scroller.scrollTop - this.scroller.clientHeight < 80;
        img.addEventListener('load', () => {
          img.removeAttribute('width');
          img.removeAttribute('height');
          if (follow) this.scrollToBottom();
        }, { once: true });
        img.src = url;
      }, (error) => img.replaceWith(h('p', { class: 'file failure' }, `The image could not be loaded: ${error.message}`)));
      return img;
    }
    const link = h('a', { class: 'file', href: '#', download: media.filename || 'file' }, `⤓ ${label}`);
    link.addEventListener('click', async (event) => {
      if (link.dataset.ready) return; // the blob: URL is set: let the browser download it
      event.preventDefault();
      try {
        link.href = await mediaUrl(download.url);
        link.dataset.ready = 'yes';
        link.click();
      } catch (error) {
        showError(this.banners, error);
      }
    });
    return link;
  }

  drawComposer(mode) {
    this.composerMode = mode;
    const c = this.conversation;
    if (mode === 'text') {
      replace(this.composer, new TextComposer(this).el);
    } else {
      replace(this.composer, new TemplateComposer(this, !c.windowOpen).el);
    }
  }

  /** After a send: show it at once and follow it to the bottom. */
  async sent(what) {
    announce(`${what} queued`);
    await this.refresh();
    this.scrollToBottom();
  }

  destroy() {
    this.destroyed = true;
    this.inbox.el.dataset.details = 'closed';
  }
}

function windowState(c) {
  if (c.windowOpen) {
    return h('span', { class: 'window-open' }, 'Window open until ', timeEl(c.windowOpenUntil, new Date(c.windowOpenUntil).toLocaleString([], { weekday: 'short', hour: '2-digit', minute: '2-digit' })));
  }
  return h('span', { class: 'window-closed' }, c.windowOpenUntil
    ? `Window closed ${fullTime(c.windowOpenUntil)}: templates only` : 'The customer has not written: templates only');
}

const TICKS = {
  QUEUED: ['○', 'Queued', 'Queued: waiting to be sent'],
  SENT: ['✓', 'Sent', 'Sent to WhatsApp'],
  DELIVERED: ['✓✓', 'Delivered', 'Delivered to the customer\'s phone'],
  READ: ['✓✓', 'Read', 'Read by the customer'],
};

/** sent ✓, delivered ✓✓, read (blue) ✓✓, failed ✕ with the reason on hover. */
export function ticks(m) {
  if (m.status === 'FAILED') {
    const reason = `Failed: ${m.errorMessage || 'Meta refused the message'}${m.errorCode ? ` (code ${m.errorCode})` : ''}`;
    return h('span', { class: 'ticks failed', role: 'img', 'aria-label': reason, title: reason, dataset: { status: m.status } }, '✕');
  }
  const [symbol, label, title] = TICKS[m.status] || ['', m.status, m.status];
  return h('span', { class: `ticks ${m.status.toLowerCase()}`, role: 'img', 'aria-label': label, title, dataset: { status: m.status } }, symbol);
}

class TextComposer {
  constructor(thread) {
    this.thread = thread;
    const { wrap, control } = field('Message', 'textarea', { rows: 2, maxlength: 4096, name: 'text',
      placeholder: 'Write a reply…', class: 'composer-text' });
    wrap.querySelector('label').classList.add('visually-hidden');
    this.text = control;
    this.text.value = thread.draft || '';
    this.text.addEventListener('input', () => { thread.draft = this.text.value; });
    this.text.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.el.requestSubmit();
      }
    });
    this.button = h('button', { type: 'submit', class: 'primary' }, 'Send');
    this.el = h('form', { class: 'composer', 'aria-label': 'Reply' }, wrap,
      h('div', { class: 'composer-buttons' }, this.button,
        h('button', { type: 'button', class: 'secondary', onclick: () => thread.drawComposer('template') }, 'Use a template')));
    this.el.addEventListener('submit', (event) => { event.preventDefault(); this.send(); });
  }

  async send() {
    const text = this.text.value.trim();
    if (!text) return;
    const c = this.thread.conversation;
    this.button.disabled = true;
    try {
      await api.post('/api/integrations/whatsapp/send', {
        toPhone: recipient(c), text, channelId: c.channelId, leadId: c.leadId || undefined,
      });
      this.text.value = '';
      this.thread.draft = '';
      await this.thread.sent('Message');
    } catch (error) {
      showError(this.thread.banners, error);
    } finally {
      this.button.disabled = false;
      this.text.focus();
    }
  }
}

/** Fills `{{key}}` placeholders with values (or leaves them marked when empty). */
export function fillPreview(text, valueOf) {
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)) {
    parts.push(text.slice(last, match.index));
    const value = valueOf(match[1]);
    parts.push(value ? h('mark', { class: 'filled' }, value) : h('mark', { class: 'placeholder' }, `{{${match[1]}}}`));
    last = match.index + match[0].length;
  }
  parts.push(text.slice(last));
  return parts;
}

/** The template's message as the customer will see it. */
export function templatePreview(components, valueOf) {
  const out = [];
  for (const component of components || []) {
    const type = (component.type || '').toUpperCase();
    if (type === 'HEADER' && component.text) out.push(h('p', { class: 'preview-header' }, fillPreview(component.text, (k) => valueOf(`header.${k}`))));
    else if (type === 'HEADER') out.push(h('p', { class: 'preview-header muted' }, `[${(component.format || 'media').toLowerCase()} header]`));
    else if (type === 'BODY') out.push(h('p', { class: 'preview-body' }, fillPreview(component.text || '', valueOf)));
    else if (type === 'FOOTER') out.push(h('p', { class: 'preview-footer' }, component.text || ''));
    else if (type === 'BUTTONS') {
      out.push(h('p', { class: 'preview-buttons' }, (component.buttons || []).map((b) => h('span', { class: 'preview-button' }, b.text || b.type))));
    }
  }
  return out;
}

function variableLabel(key) {
  if (key === 'header') return 'Header media link';
  if (key.startsWith('header.')) return `Header {{${key.slice(7)}}}`;
  if (key.startsWith('button.')) return `Button ${Number(key.slice(7)) + 1} link ending`;
  return `{{${key}}}`;
}

class TemplateComposer {
  constructor(thread, windowClosed) {
    this.thread = thread;
    this.values = {};
    const select = h('select', { id: uid('template'), name: 'template', required: true },
      h('option', { value: '' }, 'Choose an approved template…'));
    this.select = select;
    this.fields = h('div', { class: 'variables' });
    this.preview = h('div', { class: 'preview bubble', 'aria-label': 'Preview' });
    this.button = h('button', { type: 'submit', class: 'primary' }, 'Send template');
    const note = windowClosed
      ? h('p', { class: 'note' }, 'The 24-hour window is closed, so WhatsApp only lets an approved template reach this customer.')
      : null;
    this.el = h('form', { class: 'composer template-composer', 'aria-label': 'Send a template' }, note,
      h('div', { class: 'field' }, h('label', { for: select.id }, 'Template'), select),
      this.fields, h('p', { class: 'hint' }, 'Preview'), this.preview,
      h('div', { class: 'composer-buttons' }, this.button,
        windowClosed ? null : h('button', { type: 'button', class: 'secondary', onclick: () => thread.drawComposer('text') }, 'Write a message instead')));
    this.el.addEventListener('submit', (event) => { event.preventDefault(); this.send(); });
    select.addEventListener('change', () => this.choose());
    thread.inbox.cached('templates', `/api/integrations/whatsapp/templates${query({ status: 'APPROVED', limit: 100 })}`).then((list) => {
      this.templates = list.data;
      if (!list.data.length) {
        select.append(h('option', { value: '', disabled: true }, 'No approved templates: sync them on the Templates page'));
      }
      for (const t of list.data) select.append(h('option', { value: t.id }, `${t.name} (${t.language})`));
    }, (error) => showError(thread.banners, error));
  }

  choose() {
    const t = (this.templates || []).find((x) => x.id === this.select.value);
    this.template = t;
    this.values = {};
    replace(this.fields);
    if (!t) { replace(this.preview); return; }
    for (const key of t.variables) {
      const { wrap, control } = field(variableLabel(key), 'input', { type: 'text', name: `var-${key}`, required: true, dataset: { variable: key } });
      control.addEventListener('input', () => { this.values[key] = control.value; this.draw(); });
      this.fields.append(wrap);
    }
    this.draw();
  }

  draw() {
    if (!this.template) return;
    replace(this.preview, templatePreview(this.template.components, (k) => this.values[k]));
  }

  async send() {
    const t = this.template;
    if (!t) return;
    const c = this.thread.conversation;
    this.button.disabled = true;
    try {
      await api.post('/api/integrations/whatsapp/templates/send', {
        toPhone: recipient(c), templateId: t.id, variables: this.values, leadId: c.leadId || undefined,
      });
      this.select.value = '';
      this.choose();
      await this.thread.sent('Template');
    } catch (error) {
      showError(this.thread.banners, error);
    } finally {
      this.button.disabled = false;
    }
  }
}

/** The lead (name, stage, notes) and the ticket beside the thread. */
class SidePanel {
  constructor(thread, el) {
    this.thread = thread;
    this.el = el;
    this.leadCard = h('section', { class: 'card', 'aria-labelledby': 'lead-title' });
    this.ticketCard = h('section', { class: 'card', 'aria-labelledby': 'ticket-title', hidden: true });
    this.banners = h('div', { class: 'messages' });
    const close = h('button', { type: 'button', class: 'secondary close-details', onclick: () => thread.toggleDetails(false) }, 'Close details');
    replace(el, h('div', { class: 'side-head' }, h('h2', { class: 'pane-title visually-hidden' }, 'Details'), close),
      this.banners, this.ticketCard, this.leadCard);
    this.leadId = undefined;
    this.ticketSignature = undefined;
  }

  update(c) {
    if (c.leadId !== this.leadId) {
      this.leadId = c.leadId;
      this.drawLead(c);
    }
    const ticket = c.latestTicket;
    const signature = ticket ? `${ticket.id}:${ticket.status}` : '';
    if (signature !== this.ticketSignature && !this.ticketCard.contains(document.activeElement)) {
      this.ticketSignature = signature;
      this.drawTicket(ticket);
    }
  }

  async drawLead(c) {
    if (!c.leadId) {
      replace(this.leadCard, h('h3', { id: 'lead-title' }, 'Contact'),
        h('p', {}, c.contactName || displayPhone(c.phone)),
        h('p', { class: 'muted' }, 'No lead: this organization keeps tickets only.'));
      return;
    }
    replace(this.leadCard, h('h3', { id: 'lead-title' }, 'Lead'), h('p', { class: 'muted' }, 'Loading…'));
    try {
      const [lead, pipelines, notes] = await Promise.all([
        api.get(`/api/leads/${encodeURIComponent(c.leadId)}`),
        this.thread.inbox.cached('pipelines', '/api/pipelines'),
        api.get(`/api/leads/${encodeURIComponent(c.leadId)}/notes${query({ limit: 20 })}`),
      ]);
      if (this.thread.destroyed) return;
      const stage = h('select', { id: uid('stage') }, h('option', { value: '' }, 'No stage'));
      for (const p of pipelines.data) {
        const group = h('optgroup', { label: p.name });
        for (const s of p.stages) group.append(h('option', { value: s.id, selected: s.id === lead.stageId }, s.name));
        stage.append(group);
      }
      stage.value = lead.stageId || '';
      stage.addEventListener('change', () => this.setStage(lead.id, stage.value));
      this.notes = h('ul', { class: 'notes' });
      this.drawNotes(notes.data);
      replace(this.leadCard,
        h('h3', { id: 'lead-title' }, 'Lead'),
        h('p', { class: 'lead-name' }, lead.name),
        h('p', { class: 'muted' }, `${displayPhone(lead.phone)} · ${lead.status.toLowerCase()}`),
        h('div', { class: 'field' }, h('label', { for: stage.id }, 'Stage'), stage),
        h('h4', {}, 'Notes'), this.notes, this.noteForm(lead.id));
    } catch (error) {
      showError(this.banners, error);
    }
  }

  drawNotes(notes) {
    replace(this.notes, notes.length ? notes.map((n) => h('li', { class: 'note-item' },
      h('p', {}, n.content), h('p', { class: 'meta' }, timeEl(n.createdAt), n.isPrivate ? ' · private' : '')))
      : h('li', { class: 'muted' }, 'No notes yet.'));
  }

  noteForm(leadId) {
    const { wrap, control } = field('New note', 'textarea', { rows: 2, maxlength: 10000, name: 'note' });
    const privateBox = h('input', { type: 'checkbox', id: uid('private') });
    const button = h('button', { type: 'submit', class: 'secondary' }, 'Add note');
    const form = h('form', { class: 'note-form' }, wrap,
      h('div', { class: 'check' }, privateBox, h('label', { for: privateBox.id }, 'Private')), button);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const content = control.value.trim();
      if (!content) return;
      button.disabled = true;
      try {
        await api.post(`/api/leads/${encodeURIComponent(leadId)}/notes`, { content, isPrivate: privateBox.checked });
        control.value = '';
        const notes = await api.get(`/api/leads/${encodeURIComponent(leadId)}/notes${query({ limit: 20 })}`);
        this.drawNotes(notes.data);
        announce('Note added');
      } catch (error) {
        showError(this.banners, error);
      } finally {
        button.disabled = false;
      }
    });
    return form;
  }

  async setStage(leadId, stageId) {
    if (!stageId) return;
    try {
      await api.patch(`/api/leads/${encodeURIComponent(leadId)}`, { stageId });
      announce('Stage changed');
    } catch (error) {
      showError(this.banners, error);
    }
  }

  async drawTicket(summary) {
    if (!summary) {
      this.ticketCard.hidden = true;
      return;
    }
    this.ticketCard.hidden = false;
    try {
      const ticket = await api.get(`/api/tickets/${encodeURIComponent(summary.id)}`);
      if (this.thread.destroyed) return;
      const select = h('select', { id: uid('ticket-status'), name: 'status' },
        TICKET_STATUSES.map(([value, label]) => h('option', { value, selected: value === ticket.status }, label)));
      select.value = ticket.status;
      const button = h('button', { type: 'submit', class: 'secondary' }, 'Update status');
      const form = h('form', { class: 'ticket-form' },
        h('div', { class: 'field' }, h('label', { for: select.id }, 'Status'), select), button);
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        button.disabled = true;
        try {
          const changed = await api.put(`/api/tickets/${encodeURIComponent(ticket.id)}/status`, { status: select.value });
          const label = statusLabel(changed.ticket.status);
          const told = changed.notification
            ? (changed.notification.status === 'SKIPPED'
              ? ` The customer was not told: ${changed.notification.reason}`
              : ` The customer is told by ${changed.notification.via || 'message'}.`)
            : '';
          showBanner(this.banners, 'info', `Ticket #${changed.ticket.number} is now ${label}.${told}`);
          this.ticketSignature = `${changed.ticket.id}:${changed.ticket.status}`;
          status.textContent = label;
          status.dataset.status = changed.ticket.status;
        } catch (error) {
          showError(this.banners, error);
        } finally {
          button.disabled = false;
        }
      });
      const status = h('span', { class: 'status-pill', dataset: { status: ticket.status } }, statusLabel(ticket.status));
      replace(this.ticketCard,
        h('h3', { id: 'ticket-title' }, `Ticket #${ticket.number} `, status),
        h('p', {}, ticket.subject),
        h('p', { class: 'muted' }, 'Last activity ', timeEl(ticket.lastActivityAt, fullTime(ticket.lastActivityAt)),
          ticket.jiraIssueKey ? ` · Jira ${ticket.jiraIssueKey}` : ''),
        form);
    } catch (error) {
      showError(this.banners, error);
    }
  }
}

function statusLabel(status) {
  const found = TICKET_STATUSES.find(([value]) => value === status);
  return found ? found[1] : status;
}

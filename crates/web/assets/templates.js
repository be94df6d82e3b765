// The Templates page: the organization's message templates with their review status, a form
// to write one with a live preview of its placeholders, submit to Meta, and sync from Meta.

import { api, query } from './api.js';
import { announce, field, h, replace, showBanner, showError, timeEl } from './dom.js';
import { templatePreview } from './thread.js';

const EDITORS = ['OWNER', 'ADMIN', 'MANAGER'];
const STATUSES = ['APPROVED', 'PENDING', 'REJECTED', 'PAUSED', 'DISABLED'];

export class TemplatesPage {
  constructor({ root, me }) {
    this.me = me;
    this.editor = EDITORS.includes(me.role);
    this.status = '';
    this.timers = [];
    this.banners = h('div', { class: 'messages' });
    this.body = h('tbody');
    this.empty = h('p', { class: 'empty', hidden: true }, 'No templates yet.');
    const filter = h('select', { id: 'template-status' }, h('option', { value: '' }, 'Any status'),
      STATUSES.map((s) => h('option', { value: s }, s.toLowerCase())));
    filter.addEventListener('change', () => { this.status = filter.value; this.load(); });
    this.syncButton = this.editor
      ? h('button', { type: 'button', class: 'secondary', onclick: () => this.sync() }, 'Sync from Meta') : null;
    replace(root, h('div', { class: 'page' },
      h('div', { class: 'page-head' }, h('h2', {}, 'Templates'),
        h('div', { class: 'toolbar' },
          h('div', { class: 'field inline' }, h('label', { for: filter.id }, 'Status'), filter),
          this.syncButton)),
      this.banners,
      h('div', { class: 'table-wrap' },
        h('table', { class: 'table' },
          h('caption', { class: 'visually-hidden' }, 'Message templates'),
          h('thead', {}, h('tr', {}, ['Name', 'Language', 'Category', 'Status', 'Variables', 'Updated', ''].map((t) => h('th', { scope: 'col' }, t)))),
          this.body)),
      this.empty,
      this.editor ? this.createForm() : h('p', { class: 'note' }, 'Writing templates needs the role OWNER, ADMIN or MANAGER.')));
    this.load();
  }

  async load() {
    try {
      const list = await api.get(`/api/integrations/whatsapp/templates${query({ status: this.status, limit: 100 })}`);
      replace(this.body, list.data.map((t) => this.row(t)));
      this.empty.hidden = list.data.length > 0;
    } catch (error) {
      if (error.status !== 401) showError(this.banners, error);
    }
  }

  row(t) {
    const submit = this.editor && !t.externalId && t.status !== 'DISABLED'
      ? h('button', { type: 'button', class: 'secondary small', onclick: () => this.submit(t) }, 'Submit to Meta') : null;
    return h('tr', {},
      h('th', { scope: 'row', class: 'mono' }, t.name),
      h('td', {}, t.language),
      h('td', {}, t.category.toLowerCase()),
      h('td', {}, h('span', { class: `status-pill status-${t.status.toLowerCase()}` }, t.status.toLowerCase()),
        t.rejectionReason ? h('p', { class: 'failure small' }, t.rejectionReason) : null),
      h('td', { class: 'mono' }, t.variables.length ? t.variables.map((v) => `{{${v}}}`).join(' ') : '—'),
      h('td', {}, timeEl(t.updatedAt)),
      h('td', {}, submit));
  }

  async sync() {
    this.syncButton.disabled = true;
    try {
      await api.post('/api/integrations/whatsapp/templates/sync');
      showBanner(this.banners, 'info', 'Sync started: Meta\'s templates and their statuses appear here in a moment.');
      for (const delay of [1000, 3000, 6000]) this.timers.push(setTimeout(() => this.load(), delay));
    } catch (error) {
      showError(this.banners, error);
    } finally {
      this.syncButton.disabled = false;
    }
  }

  async submit(t) {
    try {
      await api.post(`/api/integrations/whatsapp/templates/${encodeURIComponent(t.id)}/submit`);
      showBanner(this.banners, 'info', `${t.name} was sent to Meta for review. Its status changes when Meta decides.`);
      for (const delay of [1000, 3000]) this.timers.push(setTimeout(() => this.load(), delay));
    } catch (error) {
      showError(this.banners, error);
    }
  }

  createForm() {
    const name = field('Name', 'input', { type: 'text', name: 'name', required: true, pattern: '[a-z0-9_]{1,512}',
      autocomplete: 'off', 'aria-describedby': 'name-hint' });
    const language = field('Language', 'input', { type: 'text', name: 'language', required: true, value: 'en_US',
      autocomplete: 'off', 'aria-describedby': 'language-hint' });
    const category = field('Category', 'select', { name: 'category' },
      ['UTILITY', 'MARKETING', 'AUTHENTICATION'].map((c) => h('option', { value: c }, c.toLowerCase())));
    const header = field('Header (optional)', 'input', { type: 'text', name: 'header', maxlength: 60 });
    const body = field('Body', 'textarea', { name: 'body', rows: 4, required: true, maxlength: 1024,
      'aria-describedby': 'body-hint' });
    const footer = field('Footer (optional)', 'input', { type: 'text', name: 'footer', maxlength: 60 });
    const samples = h('div', { class: 'variables' });
    const preview = h('div', { class: 'preview bubble', id: 'template-preview', 'aria-live': 'polite' });
    const values = {};
    const components = () => {
      const list = [];
      if (header.control.value.trim()) list.push({ type: 'HEADER', format: 'TEXT', text: header.control.value.trim() });
      list.push({ type: 'BODY', text: body.control.value });
      if (footer.control.value.trim()) list.push({ type: 'FOOTER', text: footer.control.value.trim() });
      return list;
    };
    const redraw = () => {
      const keys = [...placeholderKeys(header.control.value).map((k) => `header.${k}`), ...placeholderKeys(body.control.value)];
      const shown = [...samples.querySelectorAll('input')].map((i) => i.dataset.variable);
      if (JSON.stringify(shown) !== JSON.stringify(keys)) {
        replace(samples, keys.length ? h('p', { class: 'hint' }, 'Example values (only for the preview)') : null,
          keys.map((key) => {
            const { wrap, control } = field(`Example for {{${key}}}`, 'input', { type: 'text', value: values[key] || '', dataset: { variable: key } });
            control.addEventListener('input', () => { values[key] = control.value; draw(); });
            return wrap;
          }));
      }
      draw();
    };
    const draw = () => {
      replace(preview, body.control.value || header.control.value
        ? templatePreview(components(), (k) => values[k])
        : h('p', { class: 'muted' }, 'The message appears here as you write it. Use {{1}}, {{2}}… or {{name}} for the parts that change.'));
    };
    for (const input of [header.control, body.control, footer.control]) input.addEventListener('input', redraw);
    const button = h('button', { type: 'submit', class: 'primary' }, 'Create template');
    const form = h('form', { class: 'card template-form', 'aria-labelledby': 'new-template-title' },
      h('h3', { id: 'new-template-title' }, 'New template'),
      h('div', { class: 'form-grid' },
        h('div', {},
          name.wrap, h('p', { id: 'name-hint', class: 'hint' }, 'Lowercase letters, digits and _, e.g. order_update.'),
          language.wrap, h('p', { id: 'language-hint', class: 'hint' }, 'A WhatsApp language code: en_US, es, pt_BR…'),
          category.wrap, header.wrap, body.wrap,
          h('p', { id: 'body-hint', class: 'hint' }, 'Placeholders: {{1}}, {{2}}… numbered from 1 without gaps, or named like {{first_name}}.'),
          footer.wrap),
        h('div', { class: 'preview-column' }, h('h4', {}, 'Preview'), preview, samples)),
      button);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      button.disabled = true;
      try {
        const created = await api.post('/api/integrations/whatsapp/templates', {
          name: name.control.value.trim(), language: language.control.value.trim(),
          category: category.control.value, components: components(),
        });
        showBanner(this.banners, 'info', `${created.name} was created (pending). Submit it to Meta for review from the list.`);
        announce('Template created');
        form.reset();
        language.control.value = 'en_US';
        redraw();
        await this.load();
      } catch (error) {
        showError(this.banners, error);
        this.banners.scrollIntoView({ block: 'nearest' });
      } finally {
        button.disabled = false;
      }
    });
    redraw();
    return form;
  }

  destroy() {
    for (const timer of this.timers) clearTimeout(timer);
  }
}

/** The distinct placeholders of a text, in order: "Hi {{1}}, {{ 2 }}" → ["1", "2"]. */
export function placeholderKeys(text) {
  const keys = [];
  for (const match of (text || '').matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)) {
    if (match[1] && !keys.includes(match[1])) keys.push(match[1]);
  }
  return keys;
}

// Small DOM helpers. Text always goes in as text nodes (never parsed as HTML), so nothing a
// customer writes can become markup.

/**
 * Builds an element: h('button', {class: 'primary', onclick: fn, 'aria-label': 'Send'}, 'Send').
 * Props: `class`, `text`, `dataset`, `on<event>` handlers, boolean DOM properties (`disabled`,
 * `checked`, `hidden`, `selected`, `required`), `value`; anything else is an attribute.
 * Children: nodes, strings, numbers, arrays of them; null/undefined/false are skipped.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (['disabled', 'checked', 'hidden', 'selected', 'required', 'value', 'multiple'].includes(key)) el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let nextId = 0;
/** A unique id for label/control pairs. */
export function uid(prefix = 'f') {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

/** A labelled control: returns {wrap, control}. `control` is built by h(tag, props). */
export function field(labelText, tag, props = {}, ...children) {
  const id = props.id || uid();
  const control = h(tag, { ...props, id }, ...children);
  const wrap = h('div', { class: 'field' }, h('label', { for: id }, labelText), control);
  return { wrap, control };
}

/** Says `message` to screen readers (the page's polite live region). */
export function announce(message) {
  const region = document.getElementById('announcer');
  if (!region) return;
  region.textContent = '';
  // A fresh text node in the next frame is announced even when the text repeats.
  requestAnimationFrame(() => { region.textContent = message; });
}

/**
 * A banner for errors and notices: role="alert" for errors, role="status" otherwise. Shows the
 * API's message (and its errorCode in small print) with a close button.
 */
export function banner(kind, message, code) {
  const box = h('div', { class: `banner banner-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    h('p', {}, message, code ? h('span', { class: 'banner-code' }, ` (${code})`) : null),
    h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Dismiss', onclick: () => box.remove() }, '×'));
  return box;
}

/** Shows a banner at the top of `container` (replacing an earlier one there). */
export function showBanner(container, kind, message, code) {
  if (!container) return;
  container.replaceChildren(banner(kind, message, code));
}

/** Shows an error thrown by the API client (ApiError) or anything else, readably. */
export function showError(container, error) {
  const message = error && error.message ? error.message : String(error);
  showBanner(container, 'error', message, error && error.code);
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFormat = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** "14:05" today, "3 Mar" before: short enough for a list. */
export function shortTime(iso) {
  if (!iso) return '';
  const at = new Date(iso);
  const today = new Date();
  return at.toDateString() === today.toDateString() ? timeFormat.format(at) : dayFormat.format(at);
}

export function fullTime(iso) {
  return iso ? fullFormat.format(new Date(iso)) : '';
}

/** A <time> element with the full date on hover. */
export function timeEl(iso, text = shortTime(iso)) {
  return h('time', { datetime: iso, title: fullTime(iso) }, text);
}

/** Copies text; falls back to selecting `input` and execCommand where the clipboard API is
 * not allowed (plain http on another host than localhost). */
export async function copyText(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (input) {
      input.select();
      return document.execCommand('copy');
    }
    return false;
  }
}

/** A read-only value with a Copy button that says "Copied". */
export function copyField(labelText, value) {
  const { wrap, control } = field(labelText, 'input', { type: 'text', readonly: true, value, class: 'mono' });
  const button = h('button', { type: 'button', class: 'secondary', 'aria-label': `Copy ${labelText}` }, 'Copy');
  button.addEventListener('click', async () => {
    const ok = await copyText(control.value, control);
    button.textContent = ok ? 'Copied' : 'Select and copy';
    setTimeout(() => { button.textContent = 'Copy'; }, 2000);
  });
  wrap.append(h('div', { class: 'copy-row' }, control, button));
  wrap.classList.add('copy-field');
  return wrap;
}

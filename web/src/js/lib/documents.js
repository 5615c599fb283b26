// documents: the documents panel of a booking — the limits said before
// anything is sent, a file chooser, the upload with a progress bar, the
// list, and the downloads. Used by the manage page and the room page (with
// the citizen's manage token). The operators' console still has its own
// panel (other ids and wording); api is the seam for mounting this one there.
//
//   const panel = mountDocuments(el, {id, api, canUpload})
//     el         the element it renders into (emptied)
//     id         prefix of the ids it creates ("documents": #documents-file,
//                #documents-upload, #documents-progress, #documents-status,
//                #documents-error, #documents-list, #documents-empty,
//                download buttons #documents-download-<document id>)
//     api        {list() → [doc], create({filename, content_type, size}) →
//                {document_id, upload: {url, fields}}, complete(id) → doc,
//                link(id) → {url}}; citizenApi(token) makes it for a manage token
//     canUpload  false hides the upload form (a cancelled booking)
//     onError(err), onUploaded(documentId)  optional callbacks
//   panel.refresh()        reloads the list; returns a promise
//   panel.setCanUpload(b)
//   panel.destroy()
//
// The upload goes straight to the object store with the presigned POST, by
// XMLHttpRequest (its upload progress; the CSP's form-action 'self' forbids
// a <form> posting there), then complete() checks it. Download: link()
// presigns a GET whose answer is an attachment, and the browser follows it.
import { ApiError, get, post } from './api.js';
import { clear, focus, h, show } from './dom.js';
import { formatDateTime } from './format.js';
import { getLang, onLangChange, t } from './i18n.js';
import { announce } from './layout.js';

// What the documents function accepts (functions/internal/documents).
export const MAX_BYTES = 20 * 1024 * 1024;
export const TYPES = {
  pdf: 'application/pdf',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  p7m: 'application/pkcs7-mime',
};
const ACCEPT = [...Object.keys(TYPES).map((e) => `.${e}`), ...new Set(Object.values(TYPES))].join(',');

/** citizenApi is the documents API of a booking reached with its manage token. */
export function citizenApi(token) {
  return {
    list: async () => (await get('/api/documents', { bearer: token }))?.documents || [],
    create: (body) => post('/api/documents', body, { bearer: token }),
    complete: (id) => post(`/api/documents/${encodeURIComponent(id)}/complete`, undefined, { bearer: token }),
    link: (id) => get(`/api/documents/${encodeURIComponent(id)}`, { bearer: token }),
  };
}

/** contentType is the accepted type of a file (by its type, else its extension), or "". */
export function contentType(file) {
  const ext = (file.name.split('.').pop() || '').toLowerCase();
  const byExt = TYPES[ext] || '';
  if (Object.values(TYPES).includes(file.type)) return file.type;
  // Browsers often give .p7m files no type, or a variant.
  return byExt;
}

/** formatSize: "512 B", "48 kB", "1,5 MB" in the page's language. */
export function formatSize(n) {
  const nf = (v, d) => new Intl.NumberFormat(getLang() === 'en' ? 'en-GB' : 'it-IT', { maximumFractionDigits: d }).format(v);
  if (n < 1024) return `${nf(n, 0)} B`;
  if (n < 1024 * 1024) return `${nf(n / 1024, 0)} kB`;
  return `${nf(n / (1024 * 1024), 1)} MB`;
}

/** upload sends file with the presigned POST, reporting progress(0..1). */
export function uploadPresigned(presigned, file, type, progress = () => {}) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(presigned.fields || {})) form.append(k, v);
    if (!('Content-Type' in (presigned.fields || {}))) form.append('Content-Type', type);
    form.append('file', file); // S3 wants the file last
    const xhr = new XMLHttpRequest();
    xhr.open('POST', presigned.url);
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) progress(e.loaded / e.total);
    });
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        progress(1);
        resolve();
      } else {
        reject(new ApiError(xhr.status, { code: 'upload', detail: (xhr.responseText || '').slice(0, 300) }));
      }
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, { code: 'network', detail: 'upload failed' })));
    xhr.addEventListener('abort', () => reject(new ApiError(0, { code: 'aborted', detail: 'upload aborted' })));
    xhr.send(form);
  });
}

export function mountDocuments(el, { id = 'documents', api, canUpload = true, onError, onUploaded } = {}) {
  let docs = [];
  let state = 'loading'; // loading | ready | error
  let busy = false;
  let uploadable = canUpload;
  let alive = true;

  const file = h('input', {
    type: 'file',
    id: `${id}-file`,
    class: 'form-control documents-file',
    accept: ACCEPT,
    'aria-describedby': `${id}-limits ${id}-error`,
  });
  const fileLabel = h('label', { for: `${id}-file`, class: 'form-label documents-file-label' });
  const limits = h('p', { id: `${id}-limits`, class: 'form-text documents-limits' });
  const uploadBtn = h('button', { type: 'submit', class: 'btn btn-primary', id: `${id}-upload` });
  const bar = h('div', {
    class: 'progress-bar',
    id: `${id}-progress`,
    role: 'progressbar',
    'aria-valuemin': '0',
    'aria-valuemax': '100',
    'aria-valuenow': '0',
    'aria-labelledby': `${id}-progress-label`,
  });
  const barLabel = h('span', { id: `${id}-progress-label`, class: 'documents-progress-label' });
  const barBox = h('div', { class: 'documents-progress', id: `${id}-progress-box`, hidden: true }, barLabel, h('div', { class: 'progress' }, bar));
  const status = h('p', { id: `${id}-status`, class: 'documents-status', role: 'status' });
  const error = h('div', { id: `${id}-error`, class: 'alert alert-danger documents-error', role: 'alert', hidden: true });
  const form = h('form', { id: `${id}-form`, class: 'documents-form', novalidate: true }, h('div', { class: 'mb-3' }, fileLabel, file, limits), uploadBtn, barBox);
  const listTitle = h('h3', { class: 'h5 documents-list-title', id: `${id}-list-title` });
  const list = h('ul', { id: `${id}-list`, class: 'documents-list list-unstyled', 'aria-labelledby': `${id}-list-title` });
  const empty = h('p', { id: `${id}-empty`, class: 'documents-empty', hidden: true });
  const retry = h('button', { type: 'button', class: 'btn btn-outline-primary btn-sm', id: `${id}-retry`, hidden: true, on: { click: () => refresh() } });
  clear(el).append(h('div', { class: 'documents-panel', id: `${id}-panel` }, form, status, error, listTitle, list, empty, retry));

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    upload();
  });
  file.addEventListener('change', () => {
    showError('');
    const f = file.files?.[0];
    if (f) {
      const problem = check(f);
      if (problem) showError(problem);
    }
  });

  function check(f) {
    if (!contentType(f)) return t('documents.bad_type', { name: f.name });
    if (f.size <= 0) return t('documents.empty_file', { name: f.name });
    if (f.size > MAX_BYTES) return t('documents.too_big', { name: f.name, max: formatSize(MAX_BYTES) });
    return '';
  }

  function showError(text) {
    error.textContent = text;
    show(error, !!text);
    file.classList.toggle('is-invalid', !!text);
    if (text) file.setAttribute('aria-invalid', 'true');
    else file.removeAttribute('aria-invalid');
  }

  function setProgress(fraction, name) {
    const pct = Math.round(fraction * 100);
    bar.style.width = `${pct}%`; // CSSOM, allowed by style-src 'self'
    bar.setAttribute('aria-valuenow', String(pct));
    bar.setAttribute('aria-valuetext', `${pct}%`);
    barLabel.textContent = t('documents.progress', { name, pct });
  }

  function describe(err) {
    if (!(err instanceof ApiError)) return t('common.error_generic', { detail: String(err?.message || err) });
    if (err.status === 0) return t('common.error_network');
    if (err.code === 'upload') return t('documents.upload_refused');
    if (err.code === 'conflict' && /at most/.test(err.detail)) return t('documents.too_many');
    if (err.code === 'conflict') return t('documents.closed');
    if (err.code === 'unprocessable') return t('documents.mismatch');
    if (err.code === 'invalid') return t('documents.invalid', { detail: err.detail });
    if (err.status === 404 || err.status === 401) return t('documents.link_invalid');
    return t('common.error_generic', { detail: err.detail || err.code });
  }

  async function upload() {
    if (busy) return;
    showError('');
    const f = file.files?.[0];
    if (!f) {
      showError(t('documents.choose_first'));
      focus(file);
      return;
    }
    const problem = check(f);
    if (problem) {
      showError(problem);
      focus(file);
      return;
    }
    const type = contentType(f);
    busy = true;
    render();
    show(barBox, true);
    setProgress(0, f.name);
    status.textContent = t('documents.uploading', { name: f.name });
    try {
      const created = await api.create({ filename: f.name, content_type: type, size: f.size });
      await uploadPresigned(created.upload, f, type, (p) => setProgress(p, f.name));
      await api.complete(created.document_id);
      status.textContent = t('documents.uploaded', { name: f.name });
      announce(t('documents.uploaded', { name: f.name }));
      file.value = '';
      await refresh();
      onUploaded?.(created.document_id);
    } catch (err) {
      status.textContent = '';
      showError(describe(err));
      onError?.(err);
    } finally {
      busy = false;
      show(barBox, false);
      render();
    }
  }

  async function download(doc, btn) {
    showError('');
    btn.disabled = true;
    try {
      const { url } = await api.link(doc.id);
      // An attachment (Content-Disposition): the page stays where it is.
      const a = h('a', { href: url, download: doc.filename, class: 'visually-hidden', tabindex: '-1' });
      document.body.append(a);
      a.click();
      a.remove();
      status.textContent = t('documents.downloading', { name: doc.filename });
    } catch (err) {
      showError(describe(err));
      onError?.(err);
    } finally {
      btn.disabled = false;
    }
  }

  function render() {
    if (!alive) return;
    fileLabel.textContent = t('documents.file_label');
    limits.textContent = t('documents.limits', { max: formatSize(MAX_BYTES) });
    uploadBtn.textContent = busy ? t('documents.uploading_short') : t('documents.upload');
    uploadBtn.disabled = busy;
    file.disabled = busy;
    show(form, uploadable);
    listTitle.textContent = t('documents.list_title');
    retry.textContent = t('common.retry');
    show(retry, state === 'error');
    clear(list);
    for (const d of docs) {
      const btn = h('button', {
        type: 'button',
        class: 'btn btn-outline-primary btn-sm',
        id: `${id}-download-${d.id}`,
        'aria-label': t('documents.download_label', { name: d.filename }),
        text: t('documents.download'),
      });
      btn.addEventListener('click', () => download(d, btn));
      list.append(
        h(
          'li',
          { class: 'documents-item', id: `${id}-item-${d.id}`, dataset: { id: d.id } },
          h(
            'div',
            { class: 'documents-item-info' },
            h('span', { class: 'documents-item-name', text: d.filename }),
            h('span', {
              class: 'documents-item-meta',
              text: t('documents.meta', {
                size: formatSize(d.size),
                by: t(d.uploaded_by === 'office' ? 'documents.by_office' : 'documents.by_citizen'),
                when: formatDateTime(d.uploaded_at),
              }),
            }),
          ),
          btn,
        ),
      );
    }
    empty.textContent = state === 'loading' ? t('common.loading') : t('documents.none');
    show(empty, docs.length === 0 && state !== 'error');
  }

  async function refresh() {
    state = docs.length ? 'ready' : 'loading';
    render();
    try {
      docs = await api.list();
      state = 'ready';
    } catch (err) {
      state = 'error';
      showError(describe(err));
      onError?.(err);
    }
    render();
  }

  onLangChange(() => render());
  render();
  const ready = refresh();

  return {
    ready,
    refresh,
    setCanUpload(b) {
      uploadable = !!b;
      render();
    },
    destroy() {
      alive = false;
      clear(el);
    },
  };
}

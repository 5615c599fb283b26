// documents: the documents panel of a booking, the same for both sides —
// the citizen's (manage page, room page: the manage token) and the
// office's (the operators' console: the operator's session) — with the
// limits said before anything is sent (lib/document-limits.js, the one
// source of them), a file chooser, the upload with a progress bar, the
// list, and the downloads.
//
//   const panel = mountDocuments(el, {id, api, side, level, canUpload})
//     el         the element it renders into (emptied)
//     id         prefix of the ids it creates ("documents": #documents-file,
//                #documents-upload, #documents-progress, #documents-status,
//                #documents-error, #documents-list with li#documents-<document
//                id>, #documents-empty, #documents-download-<document id>)
//     api        {list() → [doc], create({filename, content_type, size}) →
//                {document_id, upload: {url, fields}}, complete(id) → doc,
//                link(id) → {url}}: documentsApi(base, opts) makes it
//     side       "citizen" (default) or "office": who is looking, for the
//                wording ("inviato da te", "Invia un documento al cittadino")
//     level      the heading level of the list's title (default 3)
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
import { ACCEPT, contentType, fileProblem, MAX_BYTES, MAX_FILES } from './document-limits.js';
import { clear, focus, h, show } from './dom.js';
import { formatDateTime, formatSize } from './format.js';
import { fieldError } from './form.js';
import { onLangChange, t } from './i18n.js';
import { announce } from './layout.js';
import { problemText } from './problems.js';

/**
 * documentsApi is the documents API under base: "/api/documents" with
 * {bearer: token} for the citizen, "/api/operator/bookings/<id>/documents"
 * with {operator: true} for the office.
 */
export function documentsApi(base, opts) {
  const one = (id) => `${base}/${encodeURIComponent(id)}`;
  return {
    list: async () => (await get(base, opts))?.documents || [],
    create: (body) => post(base, body, opts),
    complete: (id) => post(`${one(id)}/complete`, undefined, opts),
    link: (id) => get(one(id), opts),
  };
}

/** upload sends file with the presigned POST, reporting progress(0..1). */
function uploadPresigned(presigned, file, type, progress = () => {}) {
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

export function mountDocuments(el, { id = 'documents', api, side = 'citizen', level = 3, canUpload = true, onError, onUploaded } = {}) {
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
  const listTitle = h(`h${level}`, { class: 'h5 documents-list-title', id: `${id}-list-title` });
  const list = h('ul', { id: `${id}-list`, class: 'documents-list list-unstyled', 'aria-labelledby': `${id}-list-title` });
  const empty = h('p', { id: `${id}-empty`, class: 'documents-empty', hidden: true });
  const retry = h('button', { type: 'button', class: 'btn btn-outline-primary btn-sm', id: `${id}-retry`, hidden: true, on: { click: () => refresh() } });
  clear(el).append(h('div', { class: 'documents-panel', id: `${id}-panel` }, form, status, error, listTitle, list, empty, retry));

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    upload();
  });
  file.addEventListener('change', () => {
    const f = file.files?.[0];
    showError(f ? check(f) : '');
  });

  function check(f) {
    const problem = fileProblem(f);
    if (problem) return t(`documents.${problem}`, { name: f.name, max: formatSize(MAX_BYTES) });
    return docs.length >= MAX_FILES ? t('documents.too_many') : '';
  }

  function showError(text) {
    fieldError(file, text, { box: error });
    show(error, !!text);
  }

  function setProgress(fraction, name) {
    const pct = Math.round(fraction * 100);
    bar.style.width = `${pct}%`; // CSSOM, allowed by style-src 'self'
    bar.setAttribute('aria-valuenow', String(pct));
    bar.setAttribute('aria-valuetext', `${pct}%`);
    barLabel.textContent = t('documents.progress', { name, pct });
  }

  // describe: the API says "conflict" both for a booking that takes no more
  // documents and for one that holds the most it may: the list tells them
  // apart.
  function describe(err) {
    return problemText(err, {
      upload: 'documents.upload_refused',
      conflict: () => t(docs.length >= MAX_FILES ? 'documents.too_many' : 'documents.closed'),
      unprocessable: 'documents.mismatch',
      invalid: () => t('documents.invalid', { detail: problemText(err) }),
      not_found: 'documents.link_invalid',
      unauthorized: 'documents.link_invalid',
    });
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
      status.textContent = t(`documents.side.${side}.uploaded`, { name: f.name });
      announce(status.textContent);
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
    fileLabel.textContent = t(`documents.side.${side}.file_label`);
    limits.textContent = t('documents.limits', { max: formatSize(MAX_BYTES), count: MAX_FILES });
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
          { class: 'documents-item', id: `${id}-${d.id}`, dataset: { id: d.id } },
          h(
            'div',
            { class: 'documents-item-info' },
            h('span', { class: 'documents-item-name', text: d.filename }),
            h('span', {
              class: 'documents-item-meta',
              text: t('documents.meta', {
                size: formatSize(d.size),
                by: t(d.uploaded_by === 'office' ? 'documents.by_office' : `documents.side.${side}.by_citizen`),
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

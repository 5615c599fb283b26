// The stranded-bookings rule: a change the API refuses with 409 and a
// "bookings" list (it would leave those bookings without an appointment:
// an office or service deactivated, a closure, hours cut, a desk gone)
// shows them in #stranded, with a preview (?dry_run=true, nothing written)
// and "Annulla le prenotazioni e avvisa i cittadini", which sends the
// change again with "cancel_affected": true.
//
//   change(method, path, body, {onDone, back})  sends the change; onDone(result)
//     once it is applied (now, or from the panel); back: the selector of
//     what gets the focus when the administrator gives up. Other failures
//     are thrown.
//   setActive(kind, item, name, {path, lists, render})  deactivates (or
//     reactivates) an office, service or desk through change(), then
//     reloads the lists named, draws again and says it; a failure goes to
//     #<kind>-error
//   closeStranded()
import { $, clear, focus, h, show } from '../../lib/dom.js';
import { formatTimeRange } from '../../lib/format.js';
import { has, t } from '../../lib/i18n.js';
import { announce } from '../../lib/layout.js';
import { problemText } from '../../lib/problems.js';
import { call, dayLabel, failed, message, reload, row, serviceName } from './common.js';

let pending = null; // the change the panel is about

const stranded = (err) => err?.code === 'conflict' && Array.isArray(err.problem?.bookings);

export async function change(method, path, body, { onDone, back }) {
  let r;
  try {
    r = await call(method, path, body);
  } catch (err) {
    if (!stranded(err)) throw err;
    open({ method, path, body, onDone, back, bookings: err.problem.bookings });
    return;
  }
  await onDone(r);
}

export async function setActive(kind, item, name, { path, lists, render }) {
  try {
    await change('PATCH', path, { active: !item.active }, {
      back: `#${kind}-toggle-${item.id}`,
      onDone: async (r) => {
        await reload(...lists);
        render();
        const moved = r?.reassigned?.length ? ` ${t('admin.stranded.result_reassigned', { n: r.reassigned.length })}` : '';
        message(t(`admin.${kind}s.${item.active ? 'deactivated' : 'activated'}`, { name }) + moved);
      },
    });
  } catch (err) {
    failed(err, $(`#${kind}-error`));
  }
}

function reasonLabel(r) {
  return has(`admin.stranded.reasons.${r}`) ? t(`admin.stranded.reasons.${r}`) : r;
}

function open(p) {
  pending = p;
  $('#stranded-intro').textContent = t('admin.stranded.intro', { n: p.bookings.length });
  clear($('#stranded-list')).append(
    ...p.bookings.map((b) =>
      row(`stranded-${b.id}`, `${dayLabel(b.start.slice(0, 10))} ${formatTimeRange(b.start, b.end)}`, serviceName(b.service_id), b.desk, reasonLabel(b.reason), h('td', { class: 'op-ref', text: b.id })),
    ),
  );
  $('#stranded-preview-result').textContent = '';
  show($('#stranded-error'), false);
  show($('#stranded'), true);
  focus($('#stranded-title'));
  announce(t('admin.stranded.intro', { n: p.bookings.length }));
}

export function closeStranded() {
  pending = null;
  show($('#stranded'), false);
}

function describeResult(r) {
  const parts = [t('admin.stranded.result_cancelled', { n: r.cancelled?.length || 0 })];
  if (r.reassigned?.length) parts.push(t('admin.stranded.result_reassigned', { n: r.reassigned.length }));
  return parts.join(' ');
}

function showError(err) {
  $('#stranded-error').textContent = problemText(err);
  show($('#stranded-error'), true);
}

$('#stranded-preview').addEventListener('click', async () => {
  if (!pending) return;
  show($('#stranded-error'), false);
  try {
    const sep = pending.path.includes('?') ? '&' : '?';
    const r = await call(pending.method, `${pending.path}${sep}dry_run=true`, { ...pending.body, cancel_affected: true });
    $('#stranded-preview-result').textContent = `${t('admin.stranded.preview_result')} ${describeResult(r)}`;
  } catch (err) {
    showError(err);
  }
});

$('#stranded-confirm').addEventListener('click', async () => {
  if (!pending) return;
  const p = pending;
  $('#stranded-confirm').disabled = true;
  show($('#stranded-error'), false);
  try {
    const r = await call(p.method, p.path, { ...p.body, cancel_affected: true });
    closeStranded();
    await p.onDone(r);
    message(`${t('admin.stranded.done')} ${describeResult(r)}`);
  } catch (err) {
    if (stranded(err)) open({ ...p, bookings: err.problem.bookings });
    else showError(err);
  } finally {
    $('#stranded-confirm').disabled = false;
  }
});

$('#stranded-abort').addEventListener('click', () => {
  const back = pending?.back;
  closeStranded();
  message(t('admin.stranded.aborted'));
  focus((back && $(back)) || $('#page-title'));
});

// The administration's audit log: who changed what and when, newest first,
// filtered by the kind and id of what changed, fifty entries at a time.
import { get } from '../../lib/api.js';
import { $, clear, h, show } from '../../lib/dom.js';
import { formatDateTime } from '../../lib/format.js';
import { t } from '../../lib/i18n.js';
import { problemText } from '../../lib/problems.js';
import { A, data, row } from './common.js';

const PAGE = 50;
const KINDS = ['booking', 'office', 'service', 'closure', 'desk', 'operator', 'session'];
let entries = [];
let more = false;
let loaded = false;

async function load(after) {
  const q = new URLSearchParams({ limit: String(PAGE) });
  if ($('#audit-kind').value) q.set('target_kind', $('#audit-kind').value);
  if ($('#audit-target').value.trim()) q.set('target_id', $('#audit-target').value.trim());
  if (after && entries.length) q.set('before', String(entries.at(-1).id));
  $('#audit-status').textContent = t('common.loading');
  try {
    const got = (await get(`${A}/audit?${q}`, { operator: true })).entries || [];
    entries = after ? [...entries, ...got] : got;
    more = got.length === PAGE;
    loaded = true;
    render();
    $('#audit-status').textContent = t('admin.audit.count', { n: entries.length });
  } catch (err) {
    $('#audit-status').textContent = problemText(err);
  }
}

function who(actor) {
  if (actor?.kind === 'operator') return data.operators.find((o) => o.id === actor.id)?.display_name || actor.id;
  return t(`operator.actor.${actor?.kind || 'system'}`);
}

export function render() {
  const sel = $('#audit-kind');
  const cur = sel.value;
  clear(sel).append(h('option', { value: '', text: t('admin.audit.any') }), ...KINDS.map((k) => h('option', { value: k, text: t(`admin.audit.kinds.${k}`), selected: k === cur })));
  clear($('#audit-rows')).append(
    ...entries.map((e) => {
      const detail = e.detail && JSON.stringify(e.detail) !== '{}' ? JSON.stringify(e.detail) : '';
      return row(
        `audit-${e.id}`,
        h('td', {}, h('time', { datetime: e.at, text: formatDateTime(e.at) })),
        who(e.actor),
        e.action,
        `${t(`admin.audit.kinds.${e.target_kind}`)} ${e.target_id}`,
        h('td', {}, detail ? h('code', { class: 'admin-detail', text: detail }) : '—'),
      );
    }),
  );
  show($('#audit-more'), more);
  if (!loaded) load(false);
}

$('#audit-filter').addEventListener('submit', (ev) => {
  ev.preventDefault();
  load(false);
});
$('#audit-more').addEventListener('click', () => load(true));
